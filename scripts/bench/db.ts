import pg from 'pg';
import { recreateDatabase, startEmbeddedPostgres } from '@/db/embedded';
import { runMigrations } from '@/db/migrate';
import { resetEnvCache } from '@/lib/env';

/** Advisory lock key ("REGB") held by a bench for its whole run on the server it uses. */
const BENCH_LOCK = 0x52454742;

/**
 * A fresh database for a benchmark: on DATABASE_URL's server when set, else on an embedded
 * PostgreSQL under .data/bench. Exports its URL to this process (getDb() then uses it).
 * One bench at a time per server: a second one would drop the database the first is measuring
 * (its figures would then describe nothing), so it is refused before it touches anything.
 */
export async function freshBenchDatabase(name = 'registrar_bench'): Promise<{ url: string; stop: () => Promise<void> }> {
  let adminUrl = process.env.DATABASE_URL;
  let stopServer = async () => {};
  if (!adminUrl) {
    const db = await startEmbeddedPostgres({ dataDir: '.data/bench', port: 54359, database: 'postgres' });
    adminUrl = db.url;
    stopServer = db.stop;
  }
  const lock = new pg.Client({ connectionString: adminUrl });
  await lock.connect();
  const { rows } = await lock.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [BENCH_LOCK]);
  if (!rows[0]?.ok) {
    await lock.end();
    await stopServer();
    throw new BenchRefused('another `npm run bench` is running against this database server; wait for it to finish (two at once would drop each other’s database and share the CPU they measure).');
  }
  const stop = async () => {
    await lock.end().catch(() => {});
    await stopServer();
  };
  try {
    const url = await recreateDatabase(adminUrl, name);
    await runMigrations(url);
    process.env.DATABASE_URL = url;
    resetEnvCache();
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The bench cannot run now, for a reason that needs no stack trace. */
export class BenchRefused extends Error {}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
