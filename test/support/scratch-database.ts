import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrl } from '@/db/client';

/**
 * A database of a test's own on the test server (next to the shared one), for tests that must
 * start from nothing (migrations) or change what every other test would see (keys:rotate).
 * `drop` removes it, connections and all.
 */
export async function createScratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = databaseUrl();
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}
