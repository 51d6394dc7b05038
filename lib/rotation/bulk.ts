import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { apps, auditLog, healthSystems, issuers, registrations, rotations, type Rotation } from '@/db/schema';
import { isUuid } from '@/lib/ids';
import { recordAudit } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { getBoss } from '@/lib/jobs/boss';
import { errorSummary, logger } from '@/lib/logger';
import { assertVaultOpen } from '@/lib/registrations/manage/shared';
import { runRotationBatch } from './batch';
import { createRotations } from './create';
import { enqueueRotationBatches } from './jobs';
import { bulkRotationSchema, type BulkRotationInput } from './schemas';

export type BulkRotationStart = {
  bulkId: string;
  /** Rotations this request started. */
  started: number;
  /** Registrations already rotating: their rotation goes on, it is not started twice. */
  joined: number;
  refused: Array<{ registrationId: string; reason: string }>;
};

/**
 * Rotates a selection of registrations (ops, from the registrations table): plans and starts one
 * rotation each in a few statements, then hands them to the job queue as batches (or, where this
 * process runs no job queue, to a batch run in the background). Returns at once with the bulk id
 * whose progress page follows them; a registration already rotating is joined, not rotated twice.
 */
export async function startBulkRotation(actor: Actor, input: BulkRotationInput): Promise<BulkRotationStart> {
  assertCan(actor, 'registrations:write');
  const { registrationIds } = bulkRotationSchema.parse(input);
  assertVaultOpen();
  const bulkId = randomUUID();
  const created = await createRotations(actor, registrationIds, 'bulk', { bulkId });
  const started = created.rotations.filter((r) => r.created).map((r) => r.rotation.id);
  await recordAudit(getDb(), actor, {
    action: 'rotation.bulk_start',
    targetType: 'bulk_rotation',
    targetId: bulkId,
    details: {
      selected: new Set(registrationIds).size,
      started: started.length,
      joined: created.rotations.length - started.length,
      refused: created.refused.length,
      // Kept for the progress page, which lists what was not started and why.
      refusedItems: created.refused.map((r) => ({ registrationId: r.registrationId, reason: r.reason })),
    },
  });
  const boss = getBoss();
  if (boss) {
    await enqueueRotationBatches(boss, started);
  } else if (started.length) {
    // No job queue in this process (REGISTRAR_DISABLE_JOBS): run here, after answering. A crash
    // mid-way leaves rotations that the scan resumes wherever the jobs do run.
    void runRotationBatch(started).catch((error: unknown) => logger.error({ bulkId, err: errorSummary(error) }, 'bulk rotation run failed'));
  }
  return { bulkId, started: started.length, joined: created.rotations.length - started.length, refused: created.refused };
}

export type BulkRotationRow = {
  rotationId: string;
  registrationId: string;
  clientId: string;
  /** A re-registration's new client, once registered (the old one is cleaned up later). */
  newClientId: string | null;
  newRegistrationId: string | null;
  hospital: string;
  app: string;
  environment: string;
  strategy: Rotation['strategy'];
  state: Rotation['state'];
  error: string | null;
  finishedAt: string | null;
};

export type BulkRotationProgress = {
  bulkId: string;
  startedAt: string;
  startedBy: string | null;
  /** `retrying`: backed off, next attempt more than a minute away (`nextRetryAt`: the soonest); not running meanwhile. */
  counts: { total: number; current: number; failed: number; waiting: number; retrying: number; running: number };
  nextRetryAt: string | null;
  done: boolean;
  rows: BulkRotationRow[];
  /** Selected registrations this bulk rotation did not start, and why (from its start's audit row). */
  notStarted: Array<{ registrationId: string; clientId: string | null; reason: string }>;
  /** Selected registrations that were already rotating: their own rotation goes on. */
  joined: number;
};

/** The registration a re-registration creates, joined beside the one it replaces. */
const replacement = alias(registrations, 'replacement');

const WAITING = new Set<Rotation['state']>(['waiting_for_initial_access_token', 'waiting_for_verification']);

/** Where a bulk rotation stands: counts by outcome and one line per registration (no credential, ever). */
export async function bulkRotationProgress(actor: Actor, input: { bulkId: string }): Promise<BulkRotationProgress> {
  assertCan(actor, 'registrations:read');
  const { bulkId } = z.object({ bulkId: z.uuid() }).parse(input);
  const rows = await getDb()
    .select({
      rotationId: rotations.id,
      registrationId: rotations.registrationId,
      clientId: registrations.clientId,
      newRegistrationId: rotations.newRegistrationId,
      newClientId: replacement.clientId,
      hospital: healthSystems.name,
      app: apps.name,
      environment: registrations.environment,
      strategy: rotations.strategy,
      state: rotations.state,
      error: rotations.error,
      finishedAt: rotations.finishedAt,
      stalledAt: rotations.stalledAt,
      nextAttemptAt: rotations.nextAttemptAt,
      createdAt: rotations.createdAt,
      createdBy: rotations.createdBy,
    })
    .from(rotations)
    .innerJoin(registrations, eq(registrations.id, rotations.registrationId))
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .innerJoin(apps, eq(apps.id, registrations.appId))
    .leftJoin(replacement, eq(replacement.id, rotations.newRegistrationId))
    .where(eq(rotations.bulkId, bulkId))
    .orderBy(asc(healthSystems.name), asc(registrations.clientId));
  const [start] = await getDb()
    .select({ at: auditLog.at, actorLabel: auditLog.actorLabel, details: auditLog.details })
    .from(auditLog)
    .where(and(eq(auditLog.action, 'rotation.bulk_start'), eq(auditLog.targetType, 'bulk_rotation'), eq(auditLog.targetId, bulkId)))
    .limit(1);
  if (rows.length === 0 && !start) throw new AppError('NOT_FOUND', 'That bulk rotation does not exist.');
  const startDetails = (start?.details ?? {}) as { joined?: number; refusedItems?: Array<{ registrationId: string; reason: string }> };
  const refusedItems = Array.isArray(startDetails.refusedItems) ? startDetails.refusedItems : [];
  const refusedIds = refusedItems.map((r) => r.registrationId).filter(isUuid);
  const clientIds = new Map(
    refusedIds.length
      ? (await getDb().select({ id: registrations.id, clientId: registrations.clientId }).from(registrations).where(inArray(registrations.id, refusedIds))).map((r) => [r.id, r.clientId] as const)
      : [],
  );
  const counts = { total: rows.length, current: 0, failed: 0, waiting: 0, retrying: 0, running: 0 };
  // Backed off (a transient failure, an hourly recovery recheck): nothing happens to it before then,
  // so it is not "in progress" and a page following the bulk rotation need not poll for it.
  const later = Date.now() + 60_000;
  let nextRetryAt: Date | null = null;
  for (const r of rows) {
    if (r.state === 'current') counts.current++;
    else if (r.state === 'failed') counts.failed++;
    // Stalled (its step interrupted too often): it goes on only when a person retries it.
    else if (WAITING.has(r.state) || r.stalledAt) counts.waiting++;
    else if (r.nextAttemptAt && r.nextAttemptAt.getTime() > later) {
      counts.retrying++;
      if (!nextRetryAt || r.nextAttemptAt < nextRetryAt) nextRetryAt = r.nextAttemptAt;
    } else counts.running++;
  }
  return {
    bulkId,
    startedAt: (rows[0]?.createdAt ?? start!.at).toISOString(),
    startedBy: rows[0]?.createdBy ?? start?.actorLabel ?? null,
    counts,
    nextRetryAt: nextRetryAt?.toISOString() ?? null,
    done: counts.running === 0,
    notStarted: refusedItems.map((r) => ({ registrationId: r.registrationId, clientId: clientIds.get(r.registrationId) ?? null, reason: r.reason })),
    joined: typeof startDetails.joined === 'number' ? startDetails.joined : 0,
    rows: rows.map((r) => ({
      rotationId: r.rotationId,
      registrationId: r.registrationId,
      clientId: r.clientId,
      newClientId: r.newClientId,
      newRegistrationId: r.newRegistrationId,
      hospital: r.hospital,
      app: r.app,
      environment: r.environment,
      strategy: r.strategy,
      state: r.state,
      error: r.error?.message ?? null,
      finishedAt: r.finishedAt?.toISOString() ?? null,
    })),
  };
}
