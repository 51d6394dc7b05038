/**
 * npm run user:create -- --email a@b.c --role admin [--name "Ada"]
 * Prints the generated password alone on the last line, so scripts can read it with `tail -n1`.
 */
import { parseArgs } from 'node:util';
import { closeDb } from '@/db/client';
import { systemActor } from '@/lib/auth/actor';
import { isAppError } from '@/lib/errors';
import { createUser } from '@/lib/users/mutations';
import { prepareDatabase } from './lib/launch';

const { values } = parseArgs({ options: { email: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } } });
if (!values.email || !values.role) {
  console.error('Usage: npm run user:create -- --email you@example.com --role admin|ops|manager|support [--name NAME]');
  process.exit(1);
}
const db = await prepareDatabase();
let exitCode = 0;
try {
  const user = await createUser(systemActor('cli:user:create'), { email: values.email, role: values.role as never, name: values.name });
  console.info(`Created ${user.email} (${values.role}). Password:`);
  console.info(user.password);
} catch (error) {
  exitCode = 1;
  console.error(isAppError(error) ? error.message : error instanceof Error ? error.message : String(error));
} finally {
  await closeDb();
  await db.stop();
}
process.exit(exitCode);
