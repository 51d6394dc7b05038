import 'server-only';
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { isUniqueViolation } from '@/db/errors';
import { bulkOperations, issuers } from '@/db/schema';
import { actorLabel, assertCan, systemActor, type Actor } from '@/lib/auth/actor';
import { recordAudit } from '@/lib/audit/record';
import { mapWithConcurrency } from '@/lib/concurrency';
import { AppError } from '@/lib/errors';
import type { OutboundPolicy } from '@/lib/oauth/safe-fetch';
import { refreshIssuer } from './refresh-issuer';
import { getBoss, QUEUES } from '@/lib/jobs/boss';
import { env } from '@/lib/env';

export const REFRESH_ALL_KIND = 'issuers.refresh-all';
export const DEFAULT_DISCOVERY_CONCURRENCY = 8;

export type BulkOperationView = { id: string; status: string; total: number; succeeded: number; failed: number; createdAt: string; finishedAt: string | null };

/**
 * How long a queued or running refresh-all may go without progress before it counts as dead (its
 * process was killed: a deploy, out of memory). Each issuer's discovery has its own timeouts well
 * under a minute, and progress is recorded as each one settles.
 */
export const STALE_BULK_OPERATION_MS = 20 * 60_000;

/**
 * Creates the durable record of a "refresh all". If one is already queued or running, that one is
 * returned instead (a partial unique index guarantees one at a time) — unless it has not moved for
 * STALE_BULK_OPERATION_MS: then it is marked failed and a new one starts. Without that, one run
 * killed half-way kept every later one (the daily discovery included) joining a dead operation.
 */
export async function createRefreshAllOperation(actor: Actor, opts: { now?: Date } = {}): Promise<{ id: string; joined: boolean }> {
  assertCan(actor, 'health-systems:write');
  const [{ n } = { n: 0 }] = await getDb().select({ n: sql<number>`count(*)::int` }).from(issuers);
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await getDb().insert(bulkOperations).values({ kind: REFRESH_ALL_KIND, total: n, createdBy: actorLabel(actor) }).returning({ id: bulkOperations.id });
      await recordAudit(getDb(), actor, { action: 'issuer.refresh_all', targetType: 'bulk_operation', targetId: row!.id, details: { total: n } });
      return { id: row!.id, joined: false };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const [active] = await getDb()
        .select({ id: bulkOperations.id, updatedAt: bulkOperations.updatedAt })
        .from(bulkOperations)
        .where(and(eq(bulkOperations.kind, REFRESH_ALL_KIND), inArray(bulkOperations.status, ['queued', 'running'])))
        .limit(1);
      if (!active) throw new AppError('CONFLICT', 'Another refresh just finished; start it again.');
      const staleBefore = new Date((opts.now ?? new Date()).getTime() - STALE_BULK_OPERATION_MS);
      if (active.updatedAt >= staleBefore || attempt > 0) return { id: active.id, joined: true };
      // Still without progress when ended: one that moved meanwhile is alive after all.
      const [ended] = await getDb()
        .update(bulkOperations)
        .set({ status: 'failed', finishedAt: new Date(), updatedAt: new Date() })
        .where(and(eq(bulkOperations.id, active.id), inArray(bulkOperations.status, ['queued', 'running']), lt(bulkOperations.updatedAt, staleBefore)))
        .returning({ id: bulkOperations.id });
      if (!ended) return { id: active.id, joined: true };
      await recordAudit(getDb(), actor, { action: 'issuer.refresh_all.abandon', targetType: 'bulk_operation', targetId: active.id, outcome: 'failure', details: { lastProgressAt: active.updatedAt.toISOString() } });
    }
  }
}

/**
 * Runs a refresh-all operation: every issuer, at most `concurrency` at a time, counting progress
 * as each one settles. Each fetch has its own timeouts, so one slow server holds one slot only.
 */
export async function runRefreshAll(operationId: string, opts: { concurrency?: number; trigger?: 'refresh-all' | 'schedule'; policy?: OutboundPolicy } = {}) {
  const actor = systemActor(opts.trigger === 'schedule' ? 'job:daily-discovery' : 'job:refresh-all');
  const ids = (await getDb().select({ id: issuers.id }).from(issuers).orderBy(asc(issuers.createdAt))).map((r) => r.id);
  await getDb().update(bulkOperations).set({ status: 'running', total: ids.length, updatedAt: new Date() }).where(eq(bulkOperations.id, operationId));
  // The allowlist as it is when each issuer is refreshed (currentOutboundPolicy per refresh), not
  // when the run began: a run can take hours, and an entry an admin removed must stop counting.
  const policy = opts.policy;
  await mapWithConcurrency(ids, opts.concurrency ?? DEFAULT_DISCOVERY_CONCURRENCY, async (id) => {
    let ok = false;
    try {
      ok = (await refreshIssuer(actor, id, { trigger: opts.trigger ?? 'refresh-all', policy })).outcome === 'ok';
    } finally {
      await getDb()
        .update(bulkOperations)
        .set(ok ? { succeeded: sql`${bulkOperations.succeeded} + 1`, updatedAt: new Date() } : { failed: sql`${bulkOperations.failed} + 1`, updatedAt: new Date() })
        .where(eq(bulkOperations.id, operationId));
    }
  });
  await getDb().update(bulkOperations).set({ status: 'done', finishedAt: new Date(), updatedAt: new Date() }).where(eq(bulkOperations.id, operationId));
}

export async function markOperationFailed(operationId: string) {
  await getDb().update(bulkOperations).set({ status: 'failed', finishedAt: new Date(), updatedAt: new Date() }).where(eq(bulkOperations.id, operationId));
}

export async function getBulkOperation(actor: Actor, id: string | null): Promise<BulkOperationView | null> {
  assertCan(actor, 'health-systems:read');
  const rows = await getDb()
    .select()
    .from(bulkOperations)
    .where(id ? eq(bulkOperations.id, id) : eq(bulkOperations.kind, REFRESH_ALL_KIND))
    .orderBy(desc(bulkOperations.createdAt))
    .limit(1);
  const row = rows[0];
  if (!row) return null;
  return { id: row.id, status: row.status, total: row.total, succeeded: row.succeeded, failed: row.failed, createdAt: row.createdAt.toISOString(), finishedAt: row.finishedAt?.toISOString() ?? null };
}

/**
 * Starts (or joins) a refresh of every issuer. With the job queue running it is queued, so it
 * survives this request and any single instance; without it (scripts) it runs in the background here.
 */
export async function startRefreshAll(actor: Actor): Promise<{ id: string; joined: boolean }> {
  const op = await createRefreshAllOperation(actor);
  if (op.joined) return op;
  const boss = getBoss();
  if (boss) {
    await boss.send(QUEUES.refreshAll, { operationId: op.id });
  } else {
    void runRefreshAll(op.id, { concurrency: env().REGISTRAR_DISCOVERY_CONCURRENCY }).catch(() => markOperationFailed(op.id));
  }
  return op;
}
