import 'server-only';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { errorSummary, logger } from '@/lib/logger';
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

/** Set once a connection with the plan_cache_mode startup option was refused; see runNamed. */
let genericPlanRefused = false;

/**
 * Runs a namedStatement with positional values. A generic-plan statement runs on the main pool
 * when connections with the plan_cache_mode startup option are refused (PgBouncer and some
 * managed poolers refuse startup options they do not know): slower, never lost.
 */
export async function runNamed<R extends pg.QueryResultRow>(statement: NamedStatement, values: unknown[]): Promise<pg.QueryResult<R>> {
  const query = { name: statement.name, text: statement.text, values };
  if (!statement.genericPlan || genericPlanRefused) return getPool().query<R>(query);
  let client: pg.PoolClient;
  try {
    client = await getGenericPlanPool().connect();
  } catch (error) {
    genericPlanRefused = true;
    logger.warn({ err: errorSummary(error) }, 'connections with plan_cache_mode=force_generic_plan were refused; those statements run on the main pool from now on');
    return getPool().query<R>(query);
  }
  try {
    return await client.query<R>(query);
  } finally {
    client.release();
  }
}

/** Tests: forget an earlier refusal. */
export function resetGenericPlanRefusal(): void {
  genericPlanRefused = false;
}
