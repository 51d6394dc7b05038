import 'server-only';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { env } from '@/lib/env';

export const MIGRATIONS_FOLDER = path.resolve(process.cwd(), 'db/migrations');
// Any constant shared by every instance: two instances starting together must not migrate twice.
const MIGRATION_LOCK_KEY = 7_591_7592;

export type MigrateOptions = {
  /** Default: the committed migrations (db/migrations). */
  migrationsFolder?: string;
  /** How long one attempt waits for a table lock. Default REGISTRAR_MIGRATION_LOCK_TIMEOUT_SECONDS (10 s). */
  lockTimeoutMs?: number;
  /** Attempts before giving up; they wait 1, 2, 4… s apart. Default 5. */
  attempts?: number;
};

/**
 * Applies the committed drizzle-kit migrations, serialised across instances by an advisory lock.
 *
 * A migration that alters a table waits for every transaction using it, and while it waits every
 * new query on that table queues behind it: one long or idle-in-transaction session would stop the
 * whole application for as long. So each attempt waits at most `lockTimeoutMs` for a lock, then
 * rolls back (drizzle runs the pending migrations in one transaction: nothing is half-applied) and
 * lets the queue drain before trying again; after the last attempt it stops with what to look for.
 */
export async function runMigrations(url: string, opts: MigrateOptions = {}): Promise<void> {
  const migrationsFolder = opts.migrationsFolder ?? MIGRATIONS_FOLDER;
  const lockTimeoutMs = opts.lockTimeoutMs ?? env().REGISTRAR_MIGRATION_LOCK_TIMEOUT_SECONDS * 1000;
  const attempts = opts.attempts ?? 5;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Waiting here for another instance's migrations is expected however long they take: no timeout yet.
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`set lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    for (let attempt = 1; ; attempt++) {
      try {
        await migrate(drizzle(client), { migrationsFolder });
        return;
      } catch (error) {
        if (!isLockTimeout(error)) throw error;
        if (attempt >= attempts) {
          throw new Error(
            `The database migration could not take the table locks it needs: ${attempts} attempts each waited ${(lockTimeoutMs / 1000).toFixed(lockTimeoutMs < 1000 ? 1 : 0)} s ` +
              'for other sessions to finish with those tables. Nothing was changed (each attempt rolled back). Look for long or idle-in-transaction sessions ' +
              '(`select pid, state, xact_start, left(query, 80) from pg_stat_activity where datname = current_database() and xact_start is not null order by xact_start`), ' +
              'end them or let them finish, then start again; REGISTRAR_MIGRATION_LOCK_TIMEOUT_SECONDS sets how long each attempt waits.',
            { cause: error },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** (attempt - 1)));
      }
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

/** lock_not_available (55P03), as pg reports it or wrapped by drizzle (DrizzleQueryError's cause). */
function isLockTimeout(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '55P03') return true;
  }
  return false;
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
