import { recreateDatabase, startEmbeddedPostgres } from '@/db/embedded';
import { runMigrations } from '@/db/migrate';
import { resetEnvCache } from '@/lib/env';

/**
 * A fresh database for a benchmark: on DATABASE_URL's server when set, else on an embedded
 * PostgreSQL under .data/bench. Exports its URL to this process (getDb() then uses it).
 */
export async function freshBenchDatabase(name = 'registrar_bench'): Promise<{ url: string; stop: () => Promise<void> }> {
  let adminUrl = process.env.DATABASE_URL;
  let stop = async () => {};
  if (!adminUrl) {
    const db = await startEmbeddedPostgres({ dataDir: '.data/bench', port: 54359, database: 'postgres' });
    adminUrl = db.url;
    stop = db.stop;
  }
  const url = await recreateDatabase(adminUrl, name);
  await runMigrations(url);
  process.env.DATABASE_URL = url;
  resetEnvCache();
  return { url, stop };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
