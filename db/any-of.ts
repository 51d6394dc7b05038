import 'server-only';
import { sql, type AnyColumn, type SQL } from 'drizzle-orm';

/**
 * `column = any($1::uuid[])`: membership in a list of ids as ONE array parameter, where
 * drizzle's `inArray` binds one parameter per element. For the hundreds of ids of a scan or a
 * rotation batch that is cheaper at every step — the query builder types each parameter
 * (measured: 311 µs vs 87 µs to build a 100-id select), pg serialises each, PostgreSQL parses
 * and plans a list — and the query text stays the same whatever the count. An empty list
 * matches nothing, as `inArray` does.
 */
export function uuidIn(column: AnyColumn, ids: readonly string[]): SQL {
  return sql`${column} = any(${sql.param([...ids])}::uuid[])`;
}

/** The same for text columns (states, kinds). */
export function textIn(column: AnyColumn, values: readonly string[]): SQL {
  return sql`${column} = any(${sql.param([...values])}::text[])`;
}
