import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase } from '@/test/support/scratch-database';
import { migrationStatus, runMigrations } from './migrate';

/**
 * Migrations against a database of their own, from a migrations folder written here in drizzle-kit's
 * format: the first creates a table, the second alters it while another session holds it.
 */
let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let url: string;
let folder: string;

function writeMigrations(entries: Array<{ tag: string; sql: string }>) {
  fs.mkdirSync(path.join(folder, 'meta'), { recursive: true });
  entries.forEach((e) => fs.writeFileSync(path.join(folder, `${e.tag}.sql`), e.sql));
  const journal = { version: '7', dialect: 'postgresql', entries: entries.map((e, idx) => ({ idx, version: '7', when: 1_700_000_000_000 + idx, tag: e.tag, breakpoints: true })) };
  fs.writeFileSync(path.join(folder, 'meta/_journal.json'), JSON.stringify(journal));
}

const FIRST = { tag: '0000_first', sql: 'create table lock_probe (id int primary key);' };
const SECOND = { tag: '0001_second', sql: 'alter table lock_probe add column note text;' };

beforeAll(async () => {
  scratch = await createScratchDatabase('registrar_migrate');
  url = scratch.url;
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-migrations-'));
});

afterAll(async () => {
  await scratch.drop();
  fs.rmSync(folder, { recursive: true, force: true });
});

describe('runMigrations under a lock held by another session', () => {
  it('gives up after its attempts with what to look for, changes nothing, and never holds other queries up for long; then applies once the lock is gone', async () => {
    writeMigrations([FIRST]);
    await runMigrations(url, { migrationsFolder: folder });
    writeMigrations([FIRST, SECOND]);

    // A transaction that read the table and stays open (an idle-in-transaction session).
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('begin');
    await holder.query('select * from lock_probe');

    // Meanwhile the application keeps querying the table: while a migration waits for its lock,
    // those queries queue behind it, so how long they wait is bounded by the lock timeout.
    const app = new pg.Client({ connectionString: url });
    await app.connect();
    const appWaits: number[] = [];
    let migrating = true;
    const traffic = (async () => {
      while (migrating) {
        const t = performance.now();
        await app.query('select count(*) from lock_probe');
        appWaits.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const started = performance.now();
    const error = await runMigrations(url, { migrationsFolder: folder, lockTimeoutMs: 300, attempts: 2 }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    migrating = false;
    await traffic;
    expect(error?.message).toMatch(/could not take the table locks it needs: 2 attempts each waited 0\.3 s/);
    expect(error?.message).toMatch(/Nothing was changed/);
    expect(error?.message).toMatch(/pg_stat_activity/);
    // Two attempts of 0.3 s and a 1 s pause between them, not an indefinite wait.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(Math.max(...appWaits)).toBeLessThan(1000);

    const columns = await app.query(`select column_name from information_schema.columns where table_name = 'lock_probe' order by column_name`);
    expect(columns.rows.map((r) => r.column_name)).toEqual(['id']);
    const applied = await app.query('select count(*)::int as n from drizzle.__drizzle_migrations');
    expect(applied.rows[0].n).toBe(1);

    // The session ends: the next start applies the migration.
    await holder.query('rollback');
    await holder.end();
    await runMigrations(url, { migrationsFolder: folder, lockTimeoutMs: 300, attempts: 2 });
    const after = await app.query(`select column_name from information_schema.columns where table_name = 'lock_probe' order by column_name`);
    expect(after.rows.map((r) => r.column_name)).toEqual(['id', 'note']);
    await app.end();
  });
});

const applied = (n: number) => async () => ({ rows: [{ n }] });

describe('migrationStatus', () => {
  it('is current when every migration of this build is applied, and also when a newer instance applied more (rolling deploy)', async () => {
    const { expected } = await migrationStatus(applied(0));
    expect(await migrationStatus(applied(expected))).toEqual({ expected, applied: expected, current: true });
    expect(await migrationStatus(applied(expected + 1))).toMatchObject({ current: true });
    expect(await migrationStatus(applied(expected - 1))).toMatchObject({ current: false });
  });
});
