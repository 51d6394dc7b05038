/**
 * Vitest global setup: a real PostgreSQL for the integration tests.
 * With DATABASE_URL set (CI's second pass, or a developer's server) that server is used as is;
 * otherwise an embedded PostgreSQL under .data/test with a database recreated for every run.
 */
import { randomBytes } from 'node:crypto';
import { recreateDatabase, startEmbeddedPostgres } from '../db/embedded';
import { runMigrations } from '../db/migrate';

export default async function setup() {
  // A vault key for the whole run (tests of the vault itself set their own).
  process.env.REGISTRAR_KEY ??= randomBytes(32).toString('base64');
  let stop: () => Promise<void> = async () => {};
  if (!process.env.DATABASE_URL) {
    const db = await startEmbeddedPostgres({
      dataDir: process.env.REGISTRAR_TEST_DATA_DIR ?? '.data/test',
      port: Number(process.env.REGISTRAR_TEST_PG_PORT ?? 54339),
      database: 'postgres',
    });
    const fresh = await recreateDatabase(db.url, 'registrar_test');
    process.env.DATABASE_URL = fresh;
    stop = db.stop;
  }
  await runMigrations(process.env.DATABASE_URL);
  return async () => {
    await stop();
  };
}
