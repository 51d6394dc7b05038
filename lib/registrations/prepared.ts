import 'server-only';
import { sql, type Placeholder } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { namedStatement } from '@/db/named-statement';

/**
 * Registering runs a handful of statements whose shape never changes. Building a drizzle query
 * costs more CPU than PostgreSQL spends executing these, so they are built once per database
 * handle (a closed and reopened pool gets fresh ones) and run as named prepared statements, which
 * also spares the server a parse and plan per call.
 */
const statements = new WeakMap<Db, Map<string, unknown>>();

type Preparable<P> = { toSQL(): { sql: string }; prepare(name: string): P };

/**
 * The statement cached under `key` for this database handle, built by `build` on first use. The
 * server-side name is derived from the SQL text: a connection that outlives a code reload (next
 * dev keeps the pool) never sees one name used for two different statements.
 */
export function preparedStatement<P>(db: Db, key: string, build: (db: Db) => Preparable<P>): P {
  let byKey = statements.get(db);
  if (!byKey) statements.set(db, (byKey = new Map()));
  let statement = byKey.get(key) as P | undefined;
  if (!statement) {
    const query = build(db);
    statement = query.prepare(namedStatement(query.toSQL().sql).name);
    byKey.set(key, statement);
  }
  return statement;
}

type Row = Record<string, unknown>;
/** Placeholders for a row: a column whose value is a placeholder, or a null written into the statement. */
export type RowPlaceholders<T extends Row> = { [K in keyof T]: null extends T[K] ? Placeholder | null : Placeholder };

/**
 * One placeholder per key of `row`, named `${prefix}.${key}`: the row's shape without its values.
 * A null is written into the statement instead (drizzle's column encoders, e.g. for timestamps,
 * do not accept null through a placeholder), so null-ness is part of the shape (see shapeOf). An
 * undefined value is left out, as drizzle does: the column gets its default.
 */
export function placeholdersFor<T extends Row>(prefix: string, row: T): RowPlaceholders<T> {
  const placeholders: Record<string, Placeholder | null> = {};
  for (const [key, value] of Object.entries(row)) {
    if (value !== undefined) placeholders[key] = value === null ? null : sql.placeholder(`${prefix}.${key}`);
  }
  return placeholders as RowPlaceholders<T>;
}

/** The values that fill placeholdersFor(prefix, row). */
export function valuesFor(prefix: string, row: Row): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) if (value != null) values[`${prefix}.${key}`] = value;
  return values;
}

/** A cache key for statements built from placeholdersFor(rows): it changes with the keys and with which values are null. */
export function shapeOf(...rows: Row[]): string {
  return rows.map((row) => Object.entries(row).map(([key, value]) => (value === null ? `${key}:null` : value === undefined ? `${key}:default` : key)).join(',')).join('|');
}
