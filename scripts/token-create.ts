/**
 * npm run token:create -- --name NAME --role ROLE [--expires-in-days N] [--permission P ...]
 * Creates an API token for /api/v1 and the CLI. The token is printed once, alone on the last line,
 * so scripts can read it with `tail -n1`; only its SHA-256 is stored.
 */
import { parseArgs } from 'node:util';
import { closeDb } from '@/db/client';
import { ROLES } from '@/db/schema';
import { createApiToken } from '@/lib/api/tokens';
import { systemActor } from '@/lib/auth/actor';
import { PERMISSIONS } from '@/lib/auth/permissions';
import { isAppError } from '@/lib/errors';
import { prepareDatabase } from './lib/launch';

const USAGE = `Usage: npm run token:create -- --name NAME --role ${ROLES.join('|')} [--expires-in-days N] [--permission P ...]
Permissions (a subset of the role's; default: all of them): ${PERMISSIONS.join(', ')}`;

let values: { name?: string; role?: string; 'expires-in-days'?: string; permission?: string[]; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      name: { type: 'string' },
      role: { type: 'string' },
      'expires-in-days': { type: 'string' },
      permission: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  console.error(USAGE);
  process.exit(1);
}
if (values.help) {
  console.info(USAGE);
  process.exit(0);
}
if (!values.name || !values.role) {
  console.error(USAGE);
  process.exit(1);
}

const db = await prepareDatabase();
let exitCode = 0;
try {
  const token = await createApiToken(systemActor('cli:token:create'), {
    name: values.name,
    role: values.role as never,
    permissions: (values.permission ?? []) as never,
    expiresInDays: values['expires-in-days'] as never,
  });
  const scope = token.permissions ? token.permissions.join(', ') : `all of ${token.role}'s permissions`;
  console.info(`Created API token “${token.name}” (${token.role}; ${scope}; ${token.expiresAt ? `expires ${token.expiresAt.toISOString()}` : 'never expires'}).`);
  console.info('It is shown once; store it now:');
  console.info(token.token);
} catch (error) {
  exitCode = 1;
  if (isAppError(error)) console.error(error.message);
  else if (error && typeof error === 'object' && 'issues' in error) console.error((error as { issues: Array<{ path: unknown[]; message: string }> }).issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('\n'));
  else console.error(error instanceof Error ? error.message : String(error));
} finally {
  await closeDb();
  await db.stop();
}
process.exit(exitCode);
