import 'server-only';
import { and, eq, isNull, lte, ne, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { appKeys, registrations, rotations } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { systemActor, type Actor } from '@/lib/auth/actor';
import { isAppError } from '@/lib/errors';
import { deleteRegistration } from '@/lib/registrations/manage/delete';
import { isTransient, type RotationDeps } from './internal';
import { backoffDelayMs, defaultTimings } from './settings';

/** How long one instance holds a clean-up before another may try it (a lease, so two instances never delete twice). */
const LEASE_MS = 10 * 60_000;
const DAY_MS = 86_400_000;
/** How long an unreachable hospital is retried before a person is asked to remove the old client. */
const CLEANUP_RETRY_WINDOW_MS = 7 * DAY_MS;

export type CleanupOutcome = 'done' | 'manual' | 'retry' | 'skipped';

/**
 * After the switch: deletes the replaced client at the hospital once the grace period is over
 * (RFC 7592 §2.3), or stops publishing the old key once the verifiers' cache window is over.
 * Where that is impossible (no management API, token refused, DELETE not allowed) the old
 * registration says what a person has to do.
 */
export async function runRotationCleanup(rotationId: string, deps: RotationDeps = {}, actor: Actor = systemActor('job:rotation-cleanup')): Promise<CleanupOutcome> {
  const now = new Date();
  const [rot] = await getDb()
    .update(rotations)
    .set({ cleanupAt: new Date(now.getTime() + LEASE_MS), updatedAt: now })
    .where(and(eq(rotations.id, rotationId), eq(rotations.state, 'current'), isNull(rotations.cleanupDoneAt), lte(rotations.cleanupAt, now)))
    .returning();
  if (!rot) return 'skipped';
  const finish = async (error: string | null, outcome: CleanupOutcome) => {
    await getDb().transaction(async (tx) => {
      await tx.update(rotations).set({ cleanupDoneAt: new Date(), cleanupError: error, updatedAt: new Date() }).where(eq(rotations.id, rot.id));
      await recordAudit(tx, actor, { action: 'rotation.cleanup', targetType: 'registration', targetId: rot.registrationId, outcome: error ? 'failure' : 'success', details: { rotationId: rot.id, strategy: rot.strategy, manual: outcome === 'manual' } });
    });
    return outcome;
  };

  if (rot.strategy === 'key_rollover') {
    if (!rot.oldAppKeyId) return finish(null, 'done');
    const [pinned] = await getDb()
      .select({ n: sql<number>`count(*)::int` })
      .from(registrations)
      .where(and(eq(registrations.appKeyId, rot.oldAppKeyId), ne(registrations.status, 'deleted')));
    if ((pinned?.n ?? 0) > 0) {
      // Looked at again every day: once those are re-registered or deleted, the key is retired.
      const message = `The old key is still used by ${pinned!.n} registration(s) that registered it inline (jwks), so it stays published; rotate those by re-registration.`;
      await getDb().update(rotations).set({ cleanupAt: new Date(now.getTime() + DAY_MS), cleanupError: message, updatedAt: new Date() }).where(eq(rotations.id, rot.id));
      return 'retry';
    }
    await getDb().update(appKeys).set({ state: 'retired', retiredAt: new Date() }).where(eq(appKeys.id, rot.oldAppKeyId));
    return finish(null, 'done');
  }

  const [old] = await getDb().select().from(registrations).where(eq(registrations.id, rot.registrationId)).limit(1);
  if (!old || old.status === 'deleted') return finish(null, 'done');
  if (!old.managed || !old.registrationClientUri) {
    const message = `Client ${old.clientId} was replaced by rotation ${rot.id}, but this hospital offers no management API: ask it to remove client ${old.clientId}.`;
    await getDb().update(registrations).set({ attentionReason: message }).where(eq(registrations.id, old.id));
    return finish(message, 'manual');
  }
  try {
    await deleteRegistration(actor, { registrationId: old.id }, { fetchInit: deps.fetchInit });
    await getDb().update(registrations).set({ retiringUntil: null }).where(eq(registrations.id, old.id));
    return finish(null, 'done');
  } catch (error) {
    const message = isAppError(error) ? error.message : 'Deleting the old client failed unexpectedly.';
    // Failing since the clean-up first came due: the old client's retiring date, set at the switch
    // (the grace period in force then; the setting may have changed since).
    const timings = { ...defaultTimings(), ...deps.timings };
    const firstDue = old.retiringUntil ?? (rot.finishedAt ? new Date(rot.finishedAt.getTime() + timings.graceSeconds * 1000) : now);
    const failingForMs = Math.max(0, now.getTime() - firstDue.getTime());
    if (isTransient(error) && failingForMs < CLEANUP_RETRY_WINDOW_MS) {
      // The hospital is unreachable for now: the old client keeps working meanwhile. The retries
      // space out as the failure lasts (half of it so far, up to a day), and stop after the window.
      const delayMs = Math.min(DAY_MS, Math.max(backoffDelayMs(3, timings.backoffSeconds), failingForMs / 2));
      await getDb().update(rotations).set({ cleanupAt: new Date(now.getTime() + delayMs), cleanupError: message, updatedAt: new Date() }).where(eq(rotations.id, rot.id));
      return 'retry';
    }
    const why = isTransient(error) ? ` for ${Math.round(failingForMs / DAY_MS)} days (${message}).` : `: ${message}`;
    await getDb()
      .update(registrations)
      .set({ attentionReason: `Client ${old.clientId} was replaced by rotation ${rot.id}, but deleting it at the hospital failed${why} Remove it with the hospital.` })
      .where(and(eq(registrations.id, old.id), ne(registrations.status, 'management_lost')));
    return finish(message, 'manual');
  }
}

/** Rotations whose clean-up is due now (rotations_cleanup_idx), optionally of one issuer's registrations. */
export async function dueCleanups(now: Date, limit = 100, issuerId?: string): Promise<string[]> {
  const rows = await getDb()
    .select({ id: rotations.id })
    .from(rotations)
    .innerJoin(registrations, eq(registrations.id, rotations.registrationId))
    .where(and(eq(rotations.state, 'current'), isNull(rotations.cleanupDoneAt), lte(rotations.cleanupAt, now), issuerId ? eq(registrations.issuerId, issuerId) : undefined))
    .orderBy(rotations.cleanupAt)
    .limit(limit);
  return rows.map((r) => r.id);
}
