import 'server-only';
import { slackText } from '@/lib/notifications/slack-text';
import { and, eq, inArray, isNull, notInArray, sql } from 'drizzle-orm';
import { getDb, type DbOrTx } from '@/db/client';
import { apps, healthSystems, issuers, registrations, rotations, type Rotation } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { actorLabel, assertCan, systemActor, type Actor } from '@/lib/auth/actor';
import { mapWithConcurrency } from '@/lib/concurrency';
import { env } from '@/lib/env';
import { AppError, isAppError } from '@/lib/errors';
import { errorSummary, logger } from '@/lib/logger';
import { enqueueNotification } from '@/lib/notifications/deliver';
import { withRegistrationLock } from '@/lib/registrations/manage/lock';
import { assertVaultOpen } from '@/lib/registrations/manage/shared';
import { afterStep, HookAbort, isTransient, jobActor, loadRotation, MAX_UNFINISHED_RUNS, transientError, transition, type Ctx, type RotationDeps, type StepResult } from './internal';
import { createRotation } from './create';
import { refreshRenewals } from './renewals';
import {
  bulkRotationSchema,
  rotationIdSchema,
  startRotationSchema,
  supplyInitialAccessTokenSchema,
  type BulkRotationInput,
  type RotationIdInput,
  type StartRotationInput,
  type SupplyInitialAccessTokenInput,
} from './schemas';
import { backoffDelayMs, defaultTimings } from './settings';
import { runKeyPublishStep, runRegisterStep, runSwitchStep, runVerifyStep } from './steps';
import { runUpdateStep } from './update-step';
import { toRotationView, type RotationView } from './view';

export type { RotationDeps, RotationStep } from './internal';
export { createRotation, createRotations } from './create';

function context(actor: Actor, deps: RotationDeps, initialAccessToken: string | null = null): Ctx {
  return { actor, deps, timings: { ...defaultTimings(), ...deps.timings }, initialAccessToken };
}

export type StartRotationResult = RotationView & {
  /** True when another request had already started a rotation of this registration: this one joined it (no upstream call). */
  joined: boolean;
};

/**
 * Starts rotating a registration's credential with the strategy planRotation shows, and runs it
 * as far as it can go now. The partial unique index on `rotations` admits one active rotation per
 * registration: concurrent requests (the page, a bulk run, the scheduled scan) join the one in
 * progress instead of starting another, so the hospital sees exactly one change.
 */
export async function startRotation(actor: Actor, input: StartRotationInput, deps: RotationDeps = {}): Promise<StartRotationResult> {
  assertCan(actor, 'registrations:write');
  const data = startRotationSchema.parse(input);
  assertVaultOpen();
  const created = await createRotation(actor, data.registrationId, data.trigger);
  if (!created.created) {
    // A token sent to a rotation that waits for one is that rotation's to use (the API has no other
    // way to give it), not dropped in silence; sent to one that does not wait for it, it is refused.
    if (data.initialAccessToken) {
      if (created.rotation.state !== 'waiting_for_initial_access_token') {
        throw new AppError('CONFLICT', `A rotation of this registration is already ${created.rotation.state.replace(/_/g, ' ')} and does not need an initial access token; nothing was sent.`, { rotationId: created.rotation.id });
      }
      return { ...(await supplyInitialAccessToken(actor, { rotationId: created.rotation.id, initialAccessToken: data.initialAccessToken }, deps)), joined: true };
    }
    return { ...(await toRotationView(created.rotation)), joined: true };
  }
  const rotation = await runRotation(created.rotation.id, context(actor, deps, data.initialAccessToken));
  return { ...(await toRotationView(rotation)), joined: false };
}

/**
 * Resumes a rotation from the last committed step (after a crash, a back-off, or on the job
 * queue). Every step is idempotent, so running it again converges: one current credential, and
 * no second registration at the hospital.
 */
export async function resumeRotation(rotationId: string, deps: RotationDeps = {}, actor?: Actor): Promise<RotationView> {
  const rotation = await runRotation(rotationId, context(actor ?? (await jobActorOf(rotationId)), deps));
  return toRotationView(rotation);
}

/** The job actor for a rotation (jobActor); a rotation that does not exist is the job's (runRotation reports it). */
async function jobActorOf(rotationId: string): Promise<Actor> {
  const [row] = await getDb().select({ trigger: rotations.trigger, createdBy: rotations.createdBy }).from(rotations).where(eq(rotations.id, rotationId));
  return row ? jobActor(row) : systemActor('job:rotation');
}

/** A person asks to try a rotation waiting out its back-off now. */
export async function retryRotation(actor: Actor, input: RotationIdInput, deps: RotationDeps = {}): Promise<RotationView> {
  assertCan(actor, 'registrations:write');
  const { rotationId } = rotationIdSchema.parse(input);
  assertVaultOpen();
  return toRotationView(await runRotation(rotationId, context(actor, { ...deps, force: true })));
}

/** A person confirms that the new credential works where Registrar cannot check it (no client_credentials grant). */
export async function confirmRotationVerified(actor: Actor, input: RotationIdInput, deps: RotationDeps = {}): Promise<RotationView> {
  assertCan(actor, 'registrations:write');
  const { rotationId } = rotationIdSchema.parse(input);
  const before = await loadRotation(rotationId);
  await withRegistrationLock(before.registrationId, async () => {
    const rot = await loadRotation(rotationId);
    if (rot.state !== 'waiting_for_verification') {
      throw new AppError('CONFLICT', `This rotation is not waiting for a person to verify it (it is ${rot.state.replace(/_/g, ' ')}).`);
    }
    await getDb().transaction(async (tx) => {
      await transition(rot, { state: 'verified', verifiedBy: actorLabel(actor), error: null, nextAttemptAt: null }, tx);
      await recordAudit(tx, actor, { action: 'rotation.verified', targetType: 'registration', targetId: rot.registrationId, details: { rotationId, by: 'person' } });
    });
  });
  return toRotationView(await runRotation(rotationId, context(actor, deps)));
}

/** Ops supply a fresh initial access token (Epic: from a one-time standalone launch); it is used once and never stored. */
export async function supplyInitialAccessToken(actor: Actor, input: SupplyInitialAccessTokenInput, deps: RotationDeps = {}): Promise<RotationView> {
  assertCan(actor, 'registrations:write');
  const { rotationId, initialAccessToken } = supplyInitialAccessTokenSchema.parse(input);
  assertVaultOpen();
  const rot = await loadRotation(rotationId);
  if (rot.state !== 'waiting_for_initial_access_token' && rot.state !== 'planned') {
    throw new AppError('CONFLICT', `This rotation is not waiting for an initial access token (it is ${rot.state.replace(/_/g, ' ')}).`);
  }
  return toRotationView(await runRotation(rotationId, context(actor, { ...deps, force: true }, initialAccessToken)));
}

/**
 * Stops a rotation that cannot go on (e.g. no initial access token will come). The old credential
 * stays current — unless an RFC 7592 update was sent and its outcome is not known (`putStartedAt`):
 * the hospital may then have replaced the secret (RFC 7592 §2.2 voids the old one at once), and
 * abandoning does not undo that. The rotation then ends saying so, and the registration needs
 * attention with what to do (refresh it from the hospital, which stores whatever secret it holds).
 */
export async function abandonRotation(actor: Actor, input: RotationIdInput): Promise<RotationView> {
  assertCan(actor, 'registrations:write');
  const { rotationId } = rotationIdSchema.parse(input);
  const before = await loadRotation(rotationId);
  const rotation = await withRegistrationLock(before.registrationId, async () => {
    const rot = await loadRotation(rotationId);
    if (rot.state === 'current' || rot.state === 'failed') throw new AppError('CONFLICT', 'This rotation has already finished.');
    const unusedClient = rot.newRegistrationId ? ` The new client registered by this rotation (registration ${rot.newRegistrationId}) is not used: delete it.` : '';
    const updateOutcomeUnknown = rot.putStartedAt !== null;
    const message = updateOutcomeUnknown
      ? `Abandoned by ${actorLabel(actor)} after an RFC 7592 update was sent whose outcome is not known: the old secret may no longer work. Refresh this registration from the hospital (Registrar then stores the secret it holds); if the hospital refuses the registration access token, ask it for new credentials.${unusedClient}`
      : `Abandoned by ${actorLabel(actor)}; the old credential is still current.${unusedClient}`;
    return getDb().transaction(async (tx) => {
      const next = await transition(rot, { state: 'failed', finishedAt: new Date(), nextAttemptAt: null, error: { code: 'ABANDONED', message, at: new Date().toISOString() } }, tx);
      if (updateOutcomeUnknown) {
        const [reg] = await tx.select({ status: registrations.status }).from(registrations).where(eq(registrations.id, rot.registrationId));
        // management_lost keeps its own runbook; deleted stays deleted.
        if (reg && (reg.status === 'active' || reg.status === 'needs_attention')) {
          await tx.update(registrations).set({ status: 'needs_attention', attentionReason: message }).where(eq(registrations.id, rot.registrationId));
        }
      }
      await recordAudit(tx, actor, { action: 'rotation.abandon', targetType: 'registration', targetId: rot.registrationId, details: { rotationId, state: rot.state, ...(updateOutcomeUnknown ? { updateOutcomeUnknown } : {}) } });
      return next;
    });
  });
  return toRotationView(rotation);
}

export type BulkRotationResult = Array<{ registrationId: string; rotationId: string | null; state: Rotation['state'] | null; joined: boolean; error: string | null }>;

/**
 * Rotates a selection (trigger `bulk`) with bounded concurrency. Each registration goes through the
 * same state machine as a single rotation; one that is already rotating is joined, not repeated.
 */
export async function rotateMany(actor: Actor, input: BulkRotationInput, deps: RotationDeps & { concurrency?: number } = {}): Promise<BulkRotationResult> {
  assertCan(actor, 'registrations:write');
  const { registrationIds } = bulkRotationSchema.parse(input);
  assertVaultOpen();
  const unique = [...new Set(registrationIds)];
  const settled = await mapWithConcurrency(unique, deps.concurrency ?? env().REGISTRAR_ROTATION_CONCURRENCY, (registrationId) =>
    startRotation(actor, { registrationId, trigger: 'bulk' }, deps),
  );
  return settled.map((r, i) =>
    r.status === 'fulfilled'
      ? { registrationId: unique[i]!, rotationId: r.value.id, state: r.value.state, joined: r.value.joined, error: r.value.error?.message ?? null }
      : { registrationId: unique[i]!, rotationId: null, state: null, joined: false, error: isAppError(r.reason) ? r.reason.message : 'Unexpected error.' },
  );
}

const WAITING = new Set<Rotation['state']>(['waiting_for_verification', 'current', 'failed']);

/** The state machine: one step at a time under the registration's lock, each step committed before the next. */
async function runRotation(rotationId: string, ctx: Ctx): Promise<Rotation> {
  const first = await loadRotation(rotationId);
  return withRegistrationLock(first.registrationId, async () => {
    for (let guard = 0; guard < 25; guard++) {
      let rot = await loadRotation(rotationId);
      if (WAITING.has(rot.state)) return rot;
      if (rot.state === 'waiting_for_initial_access_token' && !ctx.initialAccessToken) return rot;
      if (rot.nextAttemptAt && rot.nextAttemptAt.getTime() > Date.now() && !ctx.deps.force) return rot;
      if (rot.stalledAt && !ctx.deps.force) return rot;
      // This run takes on the state's step: counted before it starts, so a run the process does not
      // survive stays counted. Once per run and once per state it enters (a new state starts at 0).
      if (guard === 0 || rot.unfinishedRuns === 0) {
        if (guard === 0 && !ctx.deps.force && rot.unfinishedRuns >= MAX_UNFINISHED_RUNS) return stallRotation(rot, ctx);
        rot = await beginRun(rot, guard === 0 && ctx.deps.force === true);
      }
      try {
        const { rotation } = await advance(rot, ctx);
        // A finished rotation is returned as its last step committed it (no second read).
        if (rotation.state === 'current' || rotation.state === 'failed') return rotation;
      } catch (error) {
        if (error instanceof HookAbort) throw error.error;
        return handleFailure(rot, error, ctx);
      }
    }
    return loadRotation(rotationId);
  });
}

/** Counts a run of the rotation's step (a person's retry counts afresh and lifts a stall). Compare-and-set on the state. */
async function beginRun(rot: Rotation, byPerson: boolean): Promise<Rotation> {
  const [row] = await getDb()
    .update(rotations)
    .set({ ...(byPerson ? { unfinishedRuns: 1, stalledAt: null } : { unfinishedRuns: sql`${rotations.unfinishedRuns} + 1` }), updatedAt: new Date() })
    .where(and(eq(rotations.id, rot.id), eq(rotations.state, rot.state)))
    .returning();
  if (!row) throw transientError('CONFLICT', 'The rotation was changed by another step meanwhile; it will be re-read.');
  return row;
}

/**
 * MAX_UNFINISHED_RUNS runs of this step ended with their process: stop resuming it on its own. The
 * rotation keeps its state (nothing that may have happened at the hospital is forgotten); the
 * registration needs attention, a webhook says so, and a person retries (after fixing the cause)
 * or abandons it. The old credential stays current meanwhile.
 */
async function stallRotation(rot: Rotation, ctx: Ctx): Promise<Rotation> {
  const now = new Date();
  const message =
    `The step “${STEP_LABEL[rot.state]}” was started ${rot.unfinishedRuns} times and each time the process running it stopped before it finished ` +
    `(look in the logs for what stopped it; the last run started ${utcText(rot.updatedAt)}). Registrar no longer resumes it on its own: retry once the cause is fixed (the retry first checks what reached the hospital), or abandon it. The old credential is still current.`;
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .update(rotations)
      .set({ stalledAt: now, nextAttemptAt: null, error: { code: 'INTERRUPTED', message, at: now.toISOString() }, updatedAt: now })
      .where(and(eq(rotations.id, rot.id), eq(rotations.state, rot.state), isNull(rotations.stalledAt)))
      .returning();
    if (!row) return loadRotation(rot.id, tx);
    const reason = `Credential rotation stopped while ${STEP_LABEL[rot.state]}: ${message}`;
    await tx
      .update(registrations)
      .set({ status: 'needs_attention', attentionReason: reason })
      .where(and(eq(registrations.id, rot.registrationId), inArray(registrations.status, ['active', 'needs_attention'])));
    await recordAudit(tx, ctx.actor, {
      action: 'rotation.stall',
      targetType: 'registration',
      targetId: rot.registrationId,
      outcome: 'failure',
      details: { rotationId: rot.id, state: rot.state, unfinishedRuns: rot.unfinishedRuns },
    });
    await notifyRotation(row, 'stalled', reason, tx);
    return row;
  });
}

function utcText(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

async function advance(rot: Rotation, ctx: Ctx): Promise<StepResult> {
  switch (rot.state) {
    case 'planned':
      // Strategy (a) marks itself in flight together with the PUT it is about to send (one commit).
      if (rot.strategy === 'rfc7592_update') return runUpdateStep(ctx, rot);
    // falls through
    case 'waiting_for_initial_access_token': {
      if (rot.strategy === 'new_registration' && !ctx.initialAccessToken) {
        const rotation = await transition(rot, { state: 'waiting_for_initial_access_token' });
        return afterStepOf(ctx, rotation, 'waiting_for_initial_access_token');
      }
      const rotation = await transition(rot, { state: 'in_flight', error: null, nextAttemptAt: null });
      return afterStepOf(ctx, rotation, 'in_flight');
    }
    case 'in_flight':
      if (rot.strategy === 'rfc7592_update') return runUpdateStep(ctx, rot);
      if (rot.strategy === 'key_rollover') return runKeyPublishStep(ctx, rot);
      return runRegisterStep(ctx, rot);
    case 'new_credential_stored':
      return runVerifyStep(ctx, rot);
    case 'verified': {
      const result = await runSwitchStep(ctx, rot);
      await refreshRenewals([rot.registrationId, ...(rot.newRegistrationId ? [rot.newRegistrationId] : [])]).catch(() => {});
      return result;
    }
    default:
      throw new AppError('CONFLICT', `A rotation in state ${rot.state} has no next step.`);
  }
}

function afterStepOf(ctx: Ctx, rotation: Rotation, step: StepResult['step']): Promise<StepResult> {
  return afterStep(ctx, { rotation, step });
}

const STEP_LABEL: Record<Rotation['state'], string> = {
  planned: 'starting',
  waiting_for_initial_access_token: 'waiting for an initial access token',
  in_flight: 'changing the credential at the hospital',
  new_credential_stored: 'verifying the new credential',
  waiting_for_verification: 'waiting for a person to verify',
  verified: 'switching to the new credential',
  current: 'done',
  failed: 'failed',
};

/**
 * Transient failures are retried with exponential back-off up to the configured number of
 * attempts; the rest (and the last attempt) fail the rotation: the old credential stays current
 * and the registration needs attention, with the reason.
 */
async function handleFailure(rot: Rotation, error: unknown, ctx: Ctx): Promise<Rotation> {
  const code = isAppError(error) ? error.code : 'INTERNAL';
  const message = isAppError(error) ? error.message : 'An unexpected error stopped the rotation (it was logged).';
  if (!isAppError(error)) logger.error({ rotationId: rot.id, err: errorSummary(error) }, 'rotation step failed');
  const now = new Date();
  const attempt = rot.attempt + 1;
  const current = await loadRotation(rot.id);
  // Finished meanwhile (the error came after the commit that finished it, e.g. its acknowledgement
  // was lost and the retried store found it current): nothing failed.
  if (current.state === 'current' || current.state === 'failed') return current;
  const unfinished = and(eq(rotations.id, rot.id), notInArray(rotations.state, ['current', 'failed']));
  if (isTransient(error) && attempt < ctx.timings.maxAttempts) {
    const nextAttemptAt = new Date(now.getTime() + backoffDelayMs(attempt, ctx.timings.backoffSeconds));
    const [row] = await getDb()
      .update(rotations)
      // The run ended with an outcome (this back-off): not an unfinished run.
      .set({ attempt, nextAttemptAt, unfinishedRuns: 0, error: { code, message, at: now.toISOString() }, updatedAt: now })
      .where(unfinished)
      .returning();
    if (!row) return loadRotation(rot.id);
    await recordAudit(getDb(), ctx.actor, {
      action: 'rotation.retry',
      targetType: 'registration',
      targetId: rot.registrationId,
      outcome: 'failure',
      details: { rotationId: rot.id, state: current.state, attempt, error: code, nextAttemptAt: nextAttemptAt.toISOString() },
    }).catch(() => {});
    return row ?? current;
  }
  const exhausted = isTransient(error) ? ` It was tried ${attempt} times.` : '';
  // An update sent without a known outcome may have voided the old secret (RFC 7592 §2.2): say so.
  const oldCredential = current.putStartedAt
    ? ' An RFC 7592 update was sent and its outcome is not known: the old secret may no longer work, so check this client at the hospital.'
    : ' The old credential is still current.';
  const reason = `Credential rotation failed while ${STEP_LABEL[current.state]}: ${message}${exhausted}${oldCredential}`;
  const failed = await getDb().transaction(async (tx) => {
    const [row] = await tx
      .update(rotations)
      .set({ state: 'failed', attempt, finishedAt: now, nextAttemptAt: null, error: { code, message: `${message}${exhausted}`, at: now.toISOString() }, updatedAt: now })
      .where(unfinished)
      .returning();
    if (!row) return loadRotation(rot.id, tx);
    const [reg] = await tx.select({ status: registrations.status }).from(registrations).where(eq(registrations.id, rot.registrationId));
    // management_lost (set by a refused token) keeps its own runbook; deleted stays deleted.
    if (reg && (reg.status === 'active' || reg.status === 'needs_attention')) {
      await tx.update(registrations).set({ status: 'needs_attention', attentionReason: reason }).where(eq(registrations.id, rot.registrationId));
    }
    await recordAudit(tx, ctx.actor, {
      action: 'rotation.fail',
      targetType: 'registration',
      targetId: rot.registrationId,
      outcome: 'failure',
      details: { rotationId: rot.id, state: current.state, attempt, error: code },
    });
    // Queued with the failure it reports: one without the other cannot be committed.
    await notifyRotation(row, 'failed', reason, tx);
    return row;
  });
  return failed;
}

/** A webhook (when configured) naming the client and the reason; never a credential. */
/** The webhook text of a failed or stopped rotation: names, the client id and the reason escaped for Slack. */
export function rotationNotificationText(row: { hospital: string; app: string; environment: string; clientId: string }, outcome: 'failed' | 'stalled', reason: string): string {
  return `Registrar: credential rotation ${outcome === 'failed' ? 'FAILED' : 'STOPPED (needs a person)'} ` + slackText`for ${row.hospital} · ${row.app} (${row.environment}) · client ${row.clientId}. ${reason}`;
}

async function notifyRotation(rot: Rotation, outcome: 'failed' | 'stalled', reason: string, db: DbOrTx = getDb()): Promise<void> {
  const [row] = await db
    .select({ clientId: registrations.clientId, environment: registrations.environment, hospital: healthSystems.name, app: apps.name })
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .innerJoin(apps, eq(apps.id, registrations.appId))
    .where(eq(registrations.id, rot.registrationId));
  if (!row) return;
  await enqueueNotification(
    'rotation',
    // A stall a person lifted can happen again: each one is its own notification.
    outcome === 'failed' ? `rotation-failed:${rot.id}` : `rotation-stalled:${rot.id}:${rot.stalledAt?.toISOString() ?? ''}`,
    {
      text: rotationNotificationText(row, outcome, reason),
      outcome,
      rotationId: rot.id,
      registrationId: rot.registrationId,
      strategy: rot.strategy,
    },
    db,
  );
}
