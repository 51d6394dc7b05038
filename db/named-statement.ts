import 'server-only';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { getGenericPlanPool, getPool } from './client';

/**
 * A hand-written statement that runs often with the same text: named, so each pooled connection
 * parses it once and nothing builds it per call. PostgreSQL still plans each of the first five
 * executions, then keeps a generic plan only when its estimate is no worse than planning anew.
 * `genericPlan` skips that choice (see getGenericPlanPool): for a statement whose generic plan was
 * measured to be good, which PostgreSQL would otherwise keep re-planning.
 * The name is derived from the text: a connection that outlives a code reload (next dev keeps the
 * pool) never sees one name used for two different texts.
 */
export function namedStatement(text: string, opts: { genericPlan?: boolean } = {}): NamedStatement {
  return { name: `registrar_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text, genericPlan: opts.genericPlan ?? false };
}

export type NamedStatement = { name: string; text: string; genericPlan: boolean };

/** Runs a namedStatement with positional values. */
export async function runNamed<R extends pg.QueryResultRow>(statement: NamedStatement, values: unknown[]): Promise<pg.QueryResult<R>> {
  const pool = statement.genericPlan ? getGenericPlanPool() : getPool();
  return pool.query<R>({ name: statement.name, text: statement.text, values });
}
