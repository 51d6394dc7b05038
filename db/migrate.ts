import 'server-only';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

export const MIGRATIONS_FOLDER = path.resolve(process.cwd(), 'db/migrations');
// Any constant shared by every instance: two instances starting together must not migrate twice.
const MIGRATION_LOCK_KEY = 7_591_7592;

/** Applies the committed drizzle-kit migrations, serialised across instances by an advisory lock. */
export async function runMigrations(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

/** Compares the committed journal with what the database has applied. */
export async function migrationStatus(query: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }>) {
  const journal = JSON.parse(await readFile(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as {
    entries: Array<{ tag: string }>;
  };
  let applied = 0;
  try {
    const { rows } = await query('select count(*)::int as n from drizzle.__drizzle_migrations');
    applied = Number(rows[0]?.n ?? 0);
  } catch {
    applied = 0;
  }
  // More applied than this build knows is a newer instance's migration during a rolling deploy:
  // migrations only add, so this instance still works (503 here would pull every old instance out).
  return { expected: journal.entries.length, applied, current: applied >= journal.entries.length };
}
