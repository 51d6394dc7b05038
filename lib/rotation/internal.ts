import 'server-only';
import { eq, and } from 'drizzle-orm';
import { getDb, type DbOrTx } from '@/db/client';
import { registrations, rotations, type Rotation } from '@/db/schema';
import { systemActor, type Actor } from '@/lib/auth/actor';
import { AppError, isAppError } from '@/lib/errors';
import type { ManageDeps } from '@/lib/registrations/manage/shared';
import type { RotationTimings } from './settings';

/** Where a rotation stands after a committed step; the crash-injection hook runs at each of these. */
export type RotationStep =
  | 'waiting_for_initial_access_token'
  | 'in_flight'
  | 'key_prepared'
  | 'put_started'
  | 'strategy_fallback'
  | 'new_credential_stored'
  | 'waiting_for_verification'
  | 'verified'
  | 'current';

export type RotationDeps = {
  /** Transport overrides for tests (timeouts, resolver); the outbound policy in force is always applied. */
  fetchInit?: ManageDeps['fetchInit'];
  /** Called after every committed step; a test throws here to simulate a crash at that boundary. */
  afterStep?: (step: RotationStep, rotation: Rotation) => void | Promise<void>;
  timings?: Partial<RotationTimings>;
  /** Ignore the back-off (a person pressed "retry now"). */
  force?: boolean;
};

export type Ctx = {
  actor: Actor;
  deps: RotationDeps;
  timings: RotationTimings;
  /** Supplied by ops for this run only; never stored. */
  initialAccessToken: string | null;
};

export type StepResult = { rotation: Rotation; step: RotationStep };

/**
 * Runs of one state's step that may end without an outcome — the process running them stopped
 * (killed, out of memory, a deploy) — before Registrar stops resuming that rotation on its own and
 * asks a person. A step that kills its process every time would otherwise be resumed by every scan
 * for ever, taking the jobs running beside it down with it. The rotation keeps its state, so a
 * person's retry still begins with the step's own recovery (the GET after a PUT that may have
 * landed, the registration intent that may have answered).
 */
export const MAX_UNFINISHED_RUNS = 3;

/**
 * Who a rotation's job-run steps are audited as: the job, and for one a person started (from the
 * registration page or a bulk selection) that person too, so "who did what" still names them when
 * the switch happens later on the queue. The scan's own rotations are the job's alone.
 */
export function jobActor(rot: Pick<Rotation, 'trigger' | 'createdBy'>): Actor {
  return rot.trigger !== 'schedule' && rot.createdBy ? systemActor(`job:rotation for ${rot.createdBy}`) : systemActor('job:rotation');
}

/** An error raised by the afterStep hook: it must escape the state machine untouched (a simulated crash). */
export class HookAbort {
  constructor(readonly error: unknown) {}
}

export async function afterStep(ctx: Ctx, result: StepResult): Promise<StepResult> {
  if (!ctx.deps.afterStep) return result;
  try {
    await ctx.deps.afterStep(result.step, result.rotation);
  } catch (error) {
    throw new HookAbort(error);
  }
  return result;
}

export async function loadRotation(id: string, db: DbOrTx = getDb()): Promise<Rotation> {
  const [row] = await db.select().from(rotations).where(eq(rotations.id, id)).limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That rotation does not exist.');
  return row;
}

type RotationPatch = Partial<Omit<typeof rotations.$inferInsert, 'id' | 'registrationId' | 'createdAt'>>;

/**
 * Moves a rotation on, only from the state the caller saw (compare-and-set): a step that lost a
 * race changes nothing and the machine re-reads the row. A new state starts its count of
 * unfinished runs afresh (unless the patch sets it: a step that enters a state and runs it at once).
 */
export async function transition(rot: Rotation, patch: RotationPatch, db: DbOrTx = getDb()): Promise<Rotation> {
  const entersNewState = patch.state !== undefined && patch.state !== rot.state;
  const [row] = await db
    .update(rotations)
    .set({ ...(entersNewState ? { unfinishedRuns: 0 } : {}), ...patch, updatedAt: new Date() })
    .where(and(eq(rotations.id, rot.id), eq(rotations.state, rot.state)))
    .returning();
  if (!row) throw transientError('CONFLICT', 'The rotation was changed by another step meanwhile; it will be re-read.');
  return row;
}

/** A failure worth retrying with back-off (verification not yet passing, a race, a transport error). */
export function transientError(code: AppError['code'], message: string, details: Record<string, unknown> = {}, cause?: unknown): AppError {
  return new AppError(code, message, { ...details, rotationTransient: true }, cause === undefined ? undefined : { cause });
}

type RegistrationErrorLike = { kind?: string; status?: number; outcomeUnknown?: boolean };

export function registrationErrorOf(error: unknown): RegistrationErrorLike | undefined {
  if (!isAppError(error)) return undefined;
  const info = error.details?.registrationError;
  return typeof info === 'object' && info !== null ? (info as RegistrationErrorLike) : undefined;
}

/** RFC 7592 §2: a 401 to the registration access token (or the initial access token at registration). */
export function isBearerRefusal(error: unknown): boolean {
  const info = registrationErrorOf(error);
  return info?.kind === 'bearer' && (info.status === 401 || info.status === 403);
}

/** The request may have reached the server and taken effect (a lost answer). */
export function isOutcomeUnknown(error: unknown): boolean {
  return registrationErrorOf(error)?.outcomeUnknown === true;
}

const TRANSIENT_CODES = new Set<string>(['TIMEOUT', 'UPSTREAM_UNREACHABLE', 'CONNECTION_FAILED', 'DNS_FAILURE', 'VAULT_LOCKED', 'CONFLICT']);

/** Transient failures are retried with back-off; the rest fail the rotation at once (needs attention). */
export function isTransient(error: unknown): boolean {
  if (error instanceof HookAbort) return false;
  if (!isAppError(error)) return true; // a database hiccup (or a bug): retried, and bounded by the attempt limit
  if (error.details?.rotationTransient === true) return true;
  const info = registrationErrorOf(error);
  if (info?.kind === 'network') return true;
  if (info?.kind === 'http' && (info.status ?? 0) >= 500) return true;
  if (info?.kind === 'rfc7591' && (info.status ?? 0) >= 500) return true;
  return TRANSIENT_CODES.has(error.code);
}

/** How often a rotation waiting for a recovery file to be imported looks again. */
const RECOVERY_RECHECK_MS = 60 * 60_000;

/**
 * The hospital answered with credentials the database would not store, so they are in a recovery
 * file: the replacement client of a re-registration, or the new token and secret of an update. The
 * rotation neither fails (that would leave them, once imported, unused, or give the client up) nor
 * counts attempts: it waits, looking again every hour, and once `npm run recover` has imported the
 * file it goes on with them. `message` says what is in which file and what still works.
 */
export async function waitForRecoveryImport(rot: Rotation, reg: { id: string; status: string }, message: string): Promise<StepResult> {
  const now = new Date();
  const rotation = await getDb().transaction(async (tx) => {
    const next = await transition(rot, { nextAttemptAt: new Date(now.getTime() + RECOVERY_RECHECK_MS), unfinishedRuns: 0, error: { code: 'NEEDS_RECOVERY', message, at: now.toISOString() } }, tx);
    if (reg.status === 'active' || reg.status === 'needs_attention') {
      await tx.update(registrations).set({ status: 'needs_attention', attentionReason: message }).where(eq(registrations.id, reg.id));
    }
    return next;
  });
  return { rotation, step: 'in_flight' };
}
