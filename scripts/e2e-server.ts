/**
 * The server Playwright tests run against: the BUILT app (`next start`) on a fresh database
 * (embedded unless DATABASE_URL is set), with the sandbox hospitals running and allowlisted.
 * It writes what the tests need (database URL, sandbox URLs, the set-up link the server prints)
 * to .data/e2e/context.json.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { recreateDatabase, startEmbeddedPostgres } from '@/db/embedded';
import { runMigrations } from '@/db/migrate';
import { startSandbox } from '@/sandbox/index';

const dir = path.resolve('.data/e2e');
mkdirSync(dir, { recursive: true });
const port = process.env.E2E_PORT ?? '3100';

let adminUrl = process.env.DATABASE_URL;
let stopDb = async () => {};
if (!adminUrl) {
  const db = await startEmbeddedPostgres({ dataDir: '.data/e2e', port: 54349, database: 'postgres' });
  adminUrl = db.url;
  stopDb = db.stop;
}
const databaseUrl = await recreateDatabase(adminUrl, 'registrar_e2e');
await runMigrations(databaseUrl);

const sandbox = await startSandbox();
const allowlist = [sandbox.general, sandbox.mercy, sandbox.epic].map((h) => `http://${new URL(h.origin).host}`).join(',');

const context: Record<string, unknown> = {
  databaseUrl,
  baseUrl: `http://localhost:${port}`,
  sandbox: { general: sandbox.general, mercy: sandbox.mercy, epic: sandbox.epic, adminToken: sandbox.adminToken },
  setupLink: null,
};
const contextFile = path.join(dir, 'context.json');
writeFileSync(contextFile, JSON.stringify(context, null, 2), { mode: 0o600 });

const child = spawn(process.execPath, [path.resolve('node_modules/next/dist/bin/next'), 'start', '-p', port], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: {
    ...process.env,
    DATABASE_URL: databaseUrl,
    NEXTAUTH_URL: `http://localhost:${port}`,
    NEXTAUTH_SECRET: process.env.NEXTAUTH_SECRET ?? 'e2e-session-secret-not-for-production',
    REGISTRAR_PUBLIC_URL: `http://localhost:${port}`,
    REGISTRAR_OUTBOUND_ALLOWLIST: allowlist,
    REGISTRAR_KEY: process.env.REGISTRAR_KEY ?? randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
  },
});
child.stdout.on('data', (chunk: Buffer) => {
  const text = chunk.toString('utf8');
  process.stdout.write(text);
  const link = /https?:\/\/\S+\/setup\?token=\S+/.exec(text)?.[0];
  if (link) {
    context.setupLink = link;
    writeFileSync(contextFile, JSON.stringify(context, null, 2), { mode: 0o600 });
  }
});

const shutdown = () => child.kill('SIGTERM');
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
child.on('exit', async (code) => {
  await sandbox.stop().catch(() => {});
  await stopDb().catch(() => {});
  process.exit(code ?? 0);
});
