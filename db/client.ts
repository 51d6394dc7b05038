import 'server-only';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { env } from '@/lib/env';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema>;
/** A transaction handle: domain functions that write take it so their audit row commits with them. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

type Holder = { pool: pg.Pool; db: Db; lockPool?: pg.Pool; genericPlanPool?: pg.Pool; exportPool?: pg.Pool };
// Survives module reloads in `next dev` so that a reload does not open a new pool.
const globalHolder = globalThis as unknown as { __registrarDb?: Holder };

export function databaseUrl(): string {
  const url = env().DATABASE_URL;
  if (!url) {
    throw new Error(
      'DATABASE_URL is not set. Start Registrar through `npm start` / `npm run demo` (which start the embedded PostgreSQL) or set DATABASE_URL.',
    );
  }
  return url;
}

export function getPool(): pg.Pool {
  return getHolder().pool;
}

export function getDb(): Db {
  return getHolder().db;
}

/**
 * Connections that hold session advisory locks while an operation talks to a hospital
 * (lib/registrations/manage/lock.ts). Kept apart from the main pool so that waiting lock holders
 * can never starve the queries of the operations they guard; reused, so a lock costs no new connection.
 */
export function getLockPool(): pg.Pool {
  const holder = getHolder();
  if (!holder.lockPool) {
    // Each held lock keeps a connection. At their rare worst, rotation jobs could want 26 per
    // instance at the default concurrency 8 (2 batch workers, 2 × 8 runs handed over by failing
    // batches, 8 rotation-run workers); beyond 20 they queue here for a connection rather than
    // push PostgreSQL past max_connections when several instances run.
    holder.lockPool = new pg.Pool(poolConfig(databaseUrl(), { max: 20 }));
    holder.lockPool.on('error', () => {
      // An idle lock connection dropped: PostgreSQL released whatever it held; the pool replaces it.
    });
  }
  return holder.lockPool;
}

/**
 * Connections that always use a prepared statement's generic plan (plan_cache_mode), for the few
 * named statements measured to be better off with it (db/named-statement.ts). Kept apart because
 * on the main pool the setting would also reach drizzle's parameterised queries, where a generic
 * plan cannot use a partial index whose predicate a parameter decides.
 */
export function getGenericPlanPool(): pg.Pool {
  const holder = getHolder();
  if (!holder.genericPlanPool) {
    holder.genericPlanPool = new pg.Pool(poolConfig(databaseUrl(), { max: 4, settings: { plan_cache_mode: 'force_generic_plan' } }));
    holder.genericPlanPool.on('error', () => {
      // An idle client lost its connection; the pool replaces it.
    });
  }
  return holder.genericPlanPool;
}

/** At most this many CSV exports stream at once per instance; the next waits this long for one to end. */
export const EXPORT_CONNECTIONS = 3;
export const EXPORT_WAIT_MS = 3_000;

/**
 * Connections for CSV exports (lib/csv-stream.ts), apart from the main pool: an export holds its
 * connection, with an open cursor in a transaction, for as long as the person downloads, and ten
 * slow downloads must not leave the pages and jobs without one. A download that stops reading for a
 * minute is ended by PostgreSQL (idle_in_transaction_session_timeout), so a stalled one cannot
 * hold a connection, nor VACUUM back, for ever.
 */
export function getExportPool(): pg.Pool {
  const holder = getHolder();
  if (!holder.exportPool) {
    holder.exportPool = new pg.Pool({
      ...poolConfig(databaseUrl(), { max: EXPORT_CONNECTIONS, settings: { idle_in_transaction_session_timeout: '60s' } }),
      connectionTimeoutMillis: EXPORT_WAIT_MS,
    });
    holder.exportPool.on('error', () => {
      // A connection ended by the server (a stalled download): the pool replaces it.
    });
  }
  return holder.exportPool;
}

/**
 * Every connection runs in UTC whatever the server's or database's default time zone: the
 * overview's weeks (date_trunc), the expiry filters' days (::date) and every label say UTC, and a
 * server brought by DATABASE_URL may be set to its region's zone.
 */
export function poolConfig(connectionString: string, opts: { max: number; settings?: Record<string, string> }): pg.PoolConfig {
  const settings = { TimeZone: 'UTC', ...opts.settings };
  return { connectionString, max: opts.max, idleTimeoutMillis: 30_000, options: Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ') };
}

function getHolder(): Holder {
  if (!globalHolder.__registrarDb) {
    const pool = new pg.Pool(poolConfig(databaseUrl(), { max: 10 }));
    pool.on('error', () => {
      // An idle client lost its connection; the pool replaces it. Nothing to do here.
    });
    globalHolder.__registrarDb = { pool, db: drizzle(pool, { schema }) };
  }
  return globalHolder.__registrarDb;
}

export async function closeDb(): Promise<void> {
  const holder = globalHolder.__registrarDb;
  globalHolder.__registrarDb = undefined;
  if (holder) await Promise.all([holder.pool.end(), holder.lockPool?.end(), holder.genericPlanPool?.end(), holder.exportPool?.end()]);
}

/** Describes a connection string without its password, for logs. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `PostgreSQL at ${u.hostname}:${u.port || '5432'}${u.pathname}${u.username ? ` as ${decodeURIComponent(u.username)}` : ''}`;
  } catch {
    return 'PostgreSQL (unparseable DATABASE_URL)';
  }
}
