import 'server-only';
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { apps, healthSystems, issuers, registrations, rotations, type Rotation } from '@/db/schema';
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
    details: { selected: new Set(registrationIds).size, started: started.length, joined: created.rotations.length - started.length, refused: created.refused.length },
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
  counts: { total: number; current: number; failed: number; waiting: number; running: number };
  done: boolean;
  rows: BulkRotationRow[];
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
  if (rows.length === 0) throw new AppError('NOT_FOUND', 'That bulk rotation does not exist (or started no rotation).');
  const counts = { total: rows.length, current: 0, failed: 0, waiting: 0, running: 0 };
  for (const r of rows) {
    if (r.state === 'current') counts.current++;
    else if (r.state === 'failed') counts.failed++;
    // Stalled (its step interrupted too often): it goes on only when a person retries it.
    else if (WAITING.has(r.state) || r.stalledAt) counts.waiting++;
    else counts.running++;
  }
  return {
    bulkId,
    startedAt: rows[0]!.createdAt.toISOString(),
    startedBy: rows[0]!.createdBy,
    counts,
    done: counts.running === 0,
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
