import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb, getPool } from '@/db/client';
import { migrationStatus } from '@/db/migrate';
import { jobsStatus, type FailingQueue } from '@/lib/jobs/boss';
import { getSetting } from '@/lib/settings/store';
import { vaultStatus } from '@/lib/credentials/vault';

export type HealthReport = {
  status: 'ok' | 'degraded';
  database: { reachable: boolean; error?: string };
  migrations: { current: boolean; applied: number; expected: number } | null;
  jobs: { running: boolean; startedAt: string | null; lastHeartbeatAt: string | null; lastError: string | null; failing: FailingQueue[] };
  encryptionKey: { status: 'ok' | 'absent' | 'invalid'; source: 'env' | 'file' | null; message: string };
};

/**
 * /api/health answers anyone who can reach it (load balancers, uptime checks), so when the key is
 * usable it says only that: which key is current, and the key file's path, are for Settings. When
 * it is not, it says why (the vault's message never holds key material), for whoever must fix it.
 */
const KEY_OK_MESSAGE = 'A usable encryption key is configured.';

/** What /api/health reports. No secrets, no connection strings. */
export async function checkHealth(): Promise<HealthReport> {
  let reachable = false;
  let dbError: string | undefined;
  try {
    await getDb().execute(sql`select 1`);
    reachable = true;
  } catch (error) {
    dbError = error instanceof Error && 'code' in error ? `database error ${(error as { code: string }).code}` : 'database unreachable';
  }
  const migrations = reachable ? await migrationStatus((q) => getPool().query(q)) : null;
  const lastHeartbeatAt = reachable ? await getSetting<string>('jobs.lastHeartbeatAt') : null;
  const jobs = { ...jobsStatus(), lastHeartbeatAt };
  const vault = vaultStatus();
  // Without a usable key Registrar fails closed: credential operations refuse, and health says why.
  // A queue whose last run failed (the scan that starts rotations, the daily discovery) is degraded too.
  const ok = reachable && Boolean(migrations?.current) && jobs.running && jobs.failing.length === 0 && vault.status === 'ok';
  return {
    status: ok ? 'ok' : 'degraded',
    database: { reachable, ...(dbError ? { error: dbError } : {}) },
    migrations,
    jobs,
    encryptionKey: { status: vault.status, source: vault.source, message: vault.status === 'ok' ? KEY_OK_MESSAGE : vault.message },
  };
}
