/**
 * `npm run demo`: the embedded PostgreSQL, the sandbox hospitals, and the app at
 * http://localhost:3000 (next dev), with one demo user per role. It seeds no registrations:
 * onboarding a sandbox hospital is the first thing to try.
 */
import { eq } from 'drizzle-orm';
import { closeDb, getDb } from '@/db/client';
import { users, type Role } from '@/db/schema';
import { systemActor } from '@/lib/auth/actor';
import { createUser, resetUserPassword } from '@/lib/users/mutations';
import { startSandbox } from '@/sandbox/index';
import { ensureDemoKeyFile } from '@/lib/credentials/keyring';
import { env } from '@/lib/env';
import { ensureSessionSecret, prepareDatabase, runNext } from './lib/launch';

const DEMO_ROLES: Role[] = ['admin', 'ops', 'manager', 'support'];

const db = await prepareDatabase();
// The demo keeps its vault key beside its data; production sets REGISTRAR_KEY or REGISTRAR_KEY_FILE itself.
const keyFile = env().REGISTRAR_KEY || env().REGISTRAR_KEY_FILE ? null : ensureDemoKeyFile(env().REGISTRAR_DATA_DIR);
const sandbox = await startSandbox({ ports: { general: 4401, mercy: 4402, epic: 4403 } });
const sandboxHosts = [sandbox.general, sandbox.mercy, sandbox.epic].map((h) => `http://${new URL(h.origin).host}`);
const allowlist = [process.env.REGISTRAR_OUTBOUND_ALLOWLIST, ...sandboxHosts].filter(Boolean).join(',');

// Fresh passwords on every demo start, so the printed ones always work.
const actor = systemActor('demo');
const signIns: Array<{ role: Role; email: string; password: string }> = [];
for (const role of DEMO_ROLES) {
  const email = `${role}@demo.registrar.test`;
  const [existing] = await getDb().select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
  const password = existing ? (await resetUserPassword(actor, { userId: existing.id })).password : (await createUser(actor, { email, role, name: `Demo ${role}` })).password;
  signIns.push({ role, email, password });
}
await closeDb();

const line = (s = '') => process.stdout.write(s + '\n');
line('\nSandbox hospitals (allowlisted for plain http):');
for (const h of [sandbox.general, sandbox.mercy, sandbox.epic]) line(`  ${h.name.padEnd(18)} issuer ${h.issuer}   FHIR base ${h.fhirBase}`);
line(`  Initial access tokens for Mercy/Epic: POST {origin}/sandbox/initial-access-tokens with "Authorization: Bearer ${sandbox.adminToken}"`);
if (keyFile) line(`\nVault key for the demo: ${keyFile} (REGISTRAR_KEY_FILE)`);
line('\nDemo sign-ins at http://localhost:3000 :');
for (const s of signIns) line(`  ${s.role.padEnd(8)} ${s.email.padEnd(32)} ${s.password}`);
line('');

runNext('dev', { DATABASE_URL: db.url, NEXTAUTH_SECRET: ensureSessionSecret(), REGISTRAR_OUTBOUND_ALLOWLIST: allowlist, ...(keyFile ? { REGISTRAR_KEY_FILE: keyFile } : {}) }, async () => {
  await sandbox.stop();
  await db.stop();
});
