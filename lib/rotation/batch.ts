import 'server-only';
import { and, eq, sql } from 'drizzle-orm';
import { uuidIn } from '@/db/any-of';
import { getDb } from '@/db/client';
import { rotations, type Rotation } from '@/db/schema';
import type { Actor } from '@/lib/auth/actor';
import { mapWithConcurrency, Slots } from '@/lib/concurrency';
import { env } from '@/lib/env';
import { errorSummary, logger } from '@/lib/logger';
import { updateClientRegistration, type RegistrationResponse } from '@/lib/oauth/registration';
import { withRegistrationLocks } from '@/lib/registrations/manage/lock';
import { assertVaultOpen } from '@/lib/registrations/manage/shared';
import { afterStep, HookAbort, isOutcomeUnknown, jobActor, MAX_UNFINISHED_RUNS, transition, type Ctx, type RotationDeps } from './internal';
import { resumeRotation } from './run';
import { defaultTimings } from './settings';
import { storeAnswersSettled, type AnswerToStore, type StoredAnswer } from './store-answers';
import { finished, keptOldSecret, latestServerAnswer, loadContexts, type UpdateContext } from './update-step';

export type BatchResult = {
  /** Rotated in the batch (state current). */
  rotated: string[];
  /** Run one by one through the state machine afterwards: other strategies or states, busy registrations, any failure. */
  individually: string[];
};

/** Batches of this process in the order they started (their rank for shared PUT slots). */
let nextBatchRank = 0;

/**
 * Runs many planned RFC 7592 update rotations (strategy a) with the database work shared: one
 * statement locks every registration, one loads them, one marks every PUT as sent; then the PUTs go
 * out `concurrency` at a time, and each answer is stored as soon as it arrives, with the answers
 * that arrived meanwhile, in one statement and commit (group commit). Anything that is not the plain case —
 * another strategy or state, a registration another operation holds, a PUT that fails, an update
 * that keeps the secret — is handed to the one-by-one state machine (resumeRotation), which owns
 * recovery, back-off and failure. Every rotation therefore converges exactly as it would alone.
 */
export async function runRotationBatch(
  rotationIds: readonly string[],
  opts: {
    concurrency?: number;
    /**
     * PUT slots shared with other batches of this process (the job workers), so one batch can
     * lock, load and mark its rotations while another's PUTs are still out, without more than
     * `slots.limit` batched PUTs at the hospitals; the older batch is served first. Rotations
     * handed to their own runs afterwards keep a limit of their own (`concurrency`), as the
     * rotation-run workers do. Default: slots of this batch's own.
     */
    slots?: Slots;
    deps?: RotationDeps;
    /** Default: each rotation's job actor (jobActor: the job, and the person who started it). */
    actor?: Actor;
  } = {},
): Promise<BatchResult> {
  const deps = opts.deps ?? {};
  const timings = { ...defaultTimings(), ...deps.timings };
  const ctxFor = (rot: Rotation): Ctx => ({ actor: opts.actor ?? jobActor(rot), deps, timings, initialAccessToken: null });
  const concurrency = opts.slots?.limit ?? opts.concurrency ?? env().REGISTRAR_ROTATION_CONCURRENCY;
  const slots = opts.slots ?? new Slots(concurrency);
  // Slots serve the batch that started first before a later one sharing them.
  const rank = nextBatchRank++;
  assertVaultOpen();
  const ids = [...new Set(rotationIds)];
  const owners = await getDb().select({ id: rotations.id, registrationId: rotations.registrationId }).from(rotations).where(uuidIn(rotations.id, ids));
  const individually = new Set(ids.filter((id) => !owners.some((o) => o.id === id)));
  const rotated: string[] = [];
  const markedIds = new Set<string>();

  await withRegistrationLocks(
    owners.map((o) => o.registrationId),
    async (locked) => {
      for (const o of owners) if (!locked.has(o.registrationId)) individually.add(o.id);
      const mine = owners.filter((o) => locked.has(o.registrationId));
      if (mine.length === 0) return;
      // Read again under the locks: another run may have moved them meanwhile. Both reads at once
      // (a rotation's registration never changes): no PUT leaves until they are done.
      const [rows, contexts] = await Promise.all([
        getDb().select().from(rotations).where(uuidIn(rotations.id, mine.map((o) => o.id))),
        loadContexts(mine.map((o) => o.registrationId)),
      ]);
      const now = Date.now();
      const plain = rows.filter((rot) => {
        const context = contexts.get(rot.registrationId);
        const ok =
          rot.state === 'planned' &&
          rot.stalledAt === null &&
          rot.unfinishedRuns < MAX_UNFINISHED_RUNS &&
          rot.strategy === 'rfc7592_update' &&
          !(rot.nextAttemptAt && rot.nextAttemptAt.getTime() > now) &&
          context !== undefined &&
          !('error' in context) &&
          latestServerAnswer(context.reg) !== null;
        if (!ok) individually.add(rot.id);
        return ok;
      });
      const marked = await markPutsStarted(plain);
      for (const id of marked.keys()) markedIds.add(id);
      for (const rot of plain) if (!marked.has(rot.id)) individually.add(rot.id);

      // A slot sends its next PUT as soon as it has handed its answer to the group commit: at most
      // `concurrency` requests are at the hospital, and answers no longer queue behind each other's
      // commits. Each answer is still stored before anything else happens to its registration.
      const answers: Array<Promise<void>> = [];
      const putOne = async (rot: Rotation) => {
        const context = contexts.get(rot.registrationId) as UpdateContext;
        const ctx = ctxFor(rot);
        try {
          await afterStep(ctx, { rotation: rot, step: 'in_flight' });
          await afterStep(ctx, { rotation: rot, step: 'put_started' });
          const response = await sendUpdate(ctx, rot, context);
          if (!response) {
            individually.add(rot.id);
            return;
          }
          const answer = storeUpdate(ctx, rot, context, response).then(
            (current) => void (current ? rotated.push(rot.id) : individually.add(rot.id)),
            (error: unknown) => {
              if (error instanceof HookAbort) throw error.error;
              handOver(rot, error);
            },
          );
          // Read by allSettled below once every PUT is out; handled now so a crash is not "unhandled" meanwhile.
          answer.catch(() => {});
          answers.push(answer);
        } catch (error) {
          if (error instanceof HookAbort) throw error.error;
          handOver(rot, error);
        }
      };
      const settled = await mapWithConcurrency([...marked.values()], concurrency, (rot) => slots.use(() => putOne(rot), rank));
      const stored = await Promise.allSettled(answers);
      // Only a crash simulated by a test's hook gets here: it must stop the batch like a crash would.
      const crashed = [...settled, ...stored].find((r) => r.status === 'rejected');
      if (crashed) throw crashed.reason;
    },
  );

  function handOver(rot: Rotation, error: unknown) {
    logger.warn({ rotationId: rot.id, err: errorSummary(error) }, 'batched rotation handed to its own run');
    individually.add(rot.id);
  }

  // Outside the locks: each takes its registration's lock itself.
  const rest = [...individually];
  // Those whose PUT this batch sent and then handed over ended their run here (a refusal, a lost or
  // unstorable answer, a kept secret): not unfinished runs. Their own run counts itself.
  const handedOver = rest.filter((id) => markedIds.has(id));
  if (handedOver.length) await getDb().update(rotations).set({ unfinishedRuns: 0 }).where(and(uuidIn(rotations.id, handedOver), eq(rotations.state, 'in_flight')));
  await mapWithConcurrency(rest, concurrency, (id) => resumeRotation(id, deps, opts.actor));
  return { rotated, individually: rest };
}

/** planned → in flight with the PUT marked as sent, for every plain rotation, in one statement. */
async function markPutsStarted(plain: Rotation[]): Promise<Map<string, Rotation>> {
  if (plain.length === 0) return new Map();
  const rows = await getDb()
    .update(rotations)
    // This batch runs the in-flight step at once: its first run (run.ts counts unfinished runs).
    .set({ state: 'in_flight', putStartedAt: sql`now()`, error: null, nextAttemptAt: null, unfinishedRuns: 1, updatedAt: sql`now()` })
    .where(and(uuidIn(rotations.id, plain.map((r) => r.id)), eq(rotations.state, 'planned')))
    .returning();
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * One PUT. The answer, or null to hand the rotation to its own run: a lost answer (or one about
 * another client) stays marked as sent (that run reads the registration to find out), a refusal is
 * unmarked (that run sends it again and handles the refusal).
 */
async function sendUpdate(ctx: Ctx, rot: Rotation, context: UpdateContext): Promise<RegistrationResponse | null> {
  const { reg, used } = context;
  let response: RegistrationResponse;
  try {
    response = await updateClientRegistration({
      registrationClientUri: reg.registrationClientUri,
      registrationAccessToken: used.rat,
      lastServerMetadata: latestServerAnswer(reg)!,
      changes: {},
      fetchInit: { ...ctx.deps.fetchInit, policy: context.policy },
    });
  } catch (error) {
    if (!isOutcomeUnknown(error)) await transition(rot, { putStartedAt: null }).catch(() => {});
    return null;
  }
  // An answer about another client says nothing of this one's PUT, which may have landed: the mark
  // stays, so its own run reads the registration before anything is sent again.
  if (response.clientId !== reg.clientId) return null;
  return response;
}

/** Stores an answer (group commit) and finishes the rotation. True when it is current. */
async function storeUpdate(ctx: Ctx, rot: Rotation, context: UpdateContext, response: RegistrationResponse): Promise<boolean> {
  const { reg, used } = context;
  const stored = await storeInGroup({ actor: ctx.actor, rot, reg, renewal: context.renewal, response, used, op: 'update' });
  if (stored.conflict) return false;
  if (stored.newSecret) {
    await finished(ctx, stored.rotation);
    return true;
  }
  await keptOldSecret(ctx, stored.rotation, reg);
  return false;
}

/**
 * Group commit for answers: an answer that arrives while a store is running waits for the next one,
 * which takes every answer waiting (up to 50). Each answer is durable before its rotation goes on,
 * and concurrent answers share one statement and one commit instead of queueing for a commit each.
 * One per process: the answers of batches that run at once share their commits too.
 */
const storeInGroup = groupCommit();

function groupCommit(): (answer: AnswerToStore) => Promise<StoredAnswer> {
  const waiting: Array<{ answer: AnswerToStore; resolve: (r: StoredAnswer) => void; reject: (e: unknown) => void }> = [];
  let running = false;
  const drain = async () => {
    if (running) return;
    running = true;
    try {
      while (waiting.length) {
        const taken = waiting.splice(0, 50);
        // One result per answer: an answer that cannot be stored fails alone (it may be another batch's neighbour).
        const results = await storeAnswersSettled(taken.map((t) => t.answer)).catch((error: unknown) => taken.map(() => ({ status: 'rejected' as const, reason: error })));
        taken.forEach((t, i) => {
          const result = results[i]!;
          if (result.status === 'fulfilled') t.resolve(result.value);
          else t.reject(result.reason);
        });
      }
    } finally {
      running = false;
    }
  };
  return (answer) =>
    new Promise<StoredAnswer>((resolve, reject) => {
      waiting.push({ answer, resolve, reject });
      void drain();
    });
}
