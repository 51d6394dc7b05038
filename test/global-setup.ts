/**
 * Vitest global setup: a real PostgreSQL for the integration tests.
 * With DATABASE_URL set (CI's second pass, or a developer's server) that server is used, otherwise
 * an embedded PostgreSQL under .data/test; either way the run gets a fresh database of its own,
 * dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropDatabase, recreateDatabase, startEmbeddedPostgres } from '../db/embedded';
import { runMigrations } from '../db/migrate';

export default async function setup() {
  // A vault key for the whole run (tests of the vault itself set their own).
  process.env.REGISTRAR_KEY ??= randomBytes(32).toString('base64');
  // Recovery files and other data a test writes go to a directory of the run's own, never into the
  // working copy's .data (where the app of a developer running the tests would count them).
  const dataDir = process.env.REGISTRAR_DATA_DIR ? null : mkdtempSync(path.join(os.tmpdir(), 'registrar-test-data-'));
  if (dataDir) process.env.REGISTRAR_DATA_DIR = dataDir;
  let stop: () => Promise<void> = async () => {};
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const db = await startEmbeddedPostgres({
      dataDir: process.env.REGISTRAR_TEST_DATA_DIR ?? '.data/test',
      port: Number(process.env.REGISTRAR_TEST_PG_PORT ?? 54339),
      database: 'postgres',
    });
    adminUrl = db.url;
    stop = db.stop;
  }
  // A database of this run's own on that server: runs never see each other's rows (unique issuer
  // URLs, idempotency keys, digests), and a server given by DATABASE_URL keeps its data untouched.
  const name = `registrar_test_${process.pid}_${Date.now().toString(36)}`;
  process.env.DATABASE_URL = await recreateDatabase(adminUrl, name);
  const server = adminUrl;
  const previousStop = stop;
  stop = async () => {
    await dropDatabase(server, name).catch(() => {});
    await previousStop();
  };
  await runMigrations(process.env.DATABASE_URL);
  return async () => {
    await stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
}
