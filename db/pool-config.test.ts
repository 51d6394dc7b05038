import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { dropDatabase, recreateDatabase } from './embedded';
import { databaseUrl, poolConfig } from './client';

/** A database of its own whose default time zone is not UTC, as a regional server's may be. */
const name = `registrar_tz_${process.pid}`;
const adminUrl = databaseUrl();

afterAll(async () => {
  await dropDatabase(adminUrl, name);
});

describe('pool connections', () => {
  it('run in UTC whatever the database’s default zone (week and day boundaries are computed in SQL)', async () => {
    const url = await recreateDatabase(adminUrl, name);
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`alter database "${name}" set timezone to 'America/New_York'`);
    await admin.end();

    const plain = new pg.Client({ connectionString: url });
    await plain.connect();
    expect((await plain.query<{ tz: string }>('select current_setting($1) as tz', ['TimeZone'])).rows[0]?.tz).toBe('America/New_York');
    await plain.end();

    const pool = new pg.Pool(poolConfig(url, { max: 1, settings: { plan_cache_mode: 'force_generic_plan' } }));
    const { rows } = await pool.query<{ tz: string; plans: string; week: string }>(
      `select current_setting('TimeZone') as tz, current_setting('plan_cache_mode') as plans, to_char(date_trunc('week', '2026-11-30 01:00:00+00'::timestamptz), 'YYYY-MM-DD') as week`,
    );
    await pool.end();
    // Monday 01:00 UTC is still Sunday in New York: the week would start 2026-11-23 there.
    expect(rows[0]).toEqual({ tz: 'UTC', plans: 'force_generic_plan', week: '2026-11-30' });
  });
});
