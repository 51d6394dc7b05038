import 'server-only';
import { auditLog } from '@/db/schema';
import { getDb, type DbOrTx, type Tx } from '@/db/client';
import { actorLabel, assertCan, type Actor } from '@/lib/auth/actor';
import type { Permission } from '@/lib/auth/permissions';
import { isAppError } from '@/lib/errors';
import { redactSecrets } from '@/lib/redact';

export type AuditEntry = {
  action: string;
  targetType?: string;
  targetId?: string;
  outcome?: 'success' | 'failure' | 'denied';
  details?: Record<string, unknown>;
};

/**
 * The one place that shapes an audit row (secrets in details redacted). recordAudit inserts it;
 * a caller that writes its mutation as a single statement embeds it (lib/registrations/persist.ts).
 */
export function auditRow(actor: Actor | null, entry: AuditEntry): typeof auditLog.$inferInsert {
  return {
    actorType: actor ? actor.type : 'anonymous',
    actorId: actor ? actor.id : null,
    actorLabel: actor ? actorLabel(actor) : null,
    role: actor ? actor.role : null,
    action: entry.action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    outcome: entry.outcome ?? 'success',
    requestId: actor?.requestId ?? null,
    details: entry.details ? redactSecrets(entry.details) : null,
  };
}

/** Writes one audit row. Pass the mutation's transaction so both commit or neither does. */
export async function recordAudit(db: DbOrTx, actor: Actor | null, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values(auditRow(actor, entry));
}

/**
 * Runs a mutation and its audit row in one transaction. When the mutation fails, the failure is
 * audited in a transaction of its own (the mutation's writes are rolled back) and the error rethrown.
 */
export async function auditedMutation<T>(
  actor: Actor,
  entry: Omit<AuditEntry, 'outcome'>,
  mutate: (tx: Tx) => Promise<{ result: T; targetId?: string; details?: Record<string, unknown> }>,
): Promise<T> {
  try {
    return await getDb().transaction(async (tx) => {
      const { result, targetId, details } = await mutate(tx);
      await recordAudit(tx, actor, {
        ...entry,
        targetId: targetId ?? entry.targetId,
        details: { ...entry.details, ...details },
        outcome: 'success',
      });
      return result;
    });
  } catch (error) {
    const outcome = isAppError(error) && error.code === 'FORBIDDEN' ? 'denied' : 'failure';
    await recordAudit(getDb(), actor, {
      ...entry,
      outcome,
      details: { ...entry.details, error: isAppError(error) ? error.code : 'INTERNAL' },
    }).catch(() => {});
    throw error;
  }
}

/**
 * assertCan for each permission, with the refusal audited (outcome `denied`, the entry's action):
 * for reads that write no row of their own when they succeed and must still leave a trace when a
 * role probes them (the CSV exports).
 */
export async function assertCanAudited(actor: Actor, permissions: readonly Permission[], entry: Omit<AuditEntry, 'outcome'>): Promise<void> {
  try {
    for (const permission of permissions) assertCan(actor, permission);
  } catch (error) {
    await recordAudit(getDb(), actor, { ...entry, outcome: 'denied' }).catch(() => {});
    throw error;
  }
}

/** Audits a download once its stream exists (a busy export pool refuses before any trace of success); cancels the stream if the audit row cannot be written. */
export async function auditedStream<T>(actor: Actor, entry: Omit<AuditEntry, 'outcome'>, stream: ReadableStream<T>): Promise<ReadableStream<T>> {
  try {
    await recordAudit(getDb(), actor, { ...entry, outcome: 'success' });
  } catch (error) {
    await stream.cancel().catch(() => {});
    throw error;
  }
  return stream;
}
