import 'server-only';
import { sql, type SQL } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { systemActor } from '@/lib/auth/actor';
import { mapWithConcurrency } from '@/lib/concurrency';
import { env } from '@/lib/env';
import { errorSummary, logger } from '@/lib/logger';
import { dueCleanups, runRotationCleanup } from './cleanup';
import type { RotationDeps } from './internal';
import { reconcileRenewals } from './renewals';
import { createRotations } from './create';
import { resumeRotation } from './run';

/** A rotation with no back-off and no progress for this long is taken to have crashed mid-step, and is resumed. */
const STALE_AFTER_SECONDS = 120;

/** Due registrations planned (and, on the job queue, queued) per step of the scan. */
const SCAN_CHUNK = 100;

/**
 * Registrations whose credential is due for renewal under the given policy, earliest first. Served
 * by the partial index registrations_renew_due_idx (policy, renew_at) and, for the "no active
 * rotation" test, by the partial unique index rotations_one_active_key.
 */
export function dueForRenewalQuery(now: Date, policy: 'automatic' | 'manual', limit: number, issuerId?: string): SQL {
  return sql`
    select r.id
      from registrations r
     where r.rotation_policy = ${policy}${issuerId ? sql` and r.issuer_id = ${issuerId}::uuid` : sql``}
       and r.status = 'active'
       and r.replaced_by_registration_id is null
       and r.renew_at is not null
       and r.renew_at <= ${now.toISOString()}::timestamptz
       and not exists (select 1 from rotations x where x.registration_id = r.id and x.state not in ('current', 'failed'))
     order by r.renew_at
     limit ${limit}`;
}

export async function dueForRenewal(now: Date, policy: 'automatic' | 'manual', limit = 500, issuerId?: string): Promise<string[]> {
  const result = await getDb().execute<{ id: string }>(dueForRenewalQuery(now, policy, limit, issuerId));
  return result.rows.map((r) => r.id);
}

/**
 * Active rotations whose back-off is over, or that made no progress for a while (their runner
 * died). Not those stalled after too many unfinished runs: a person retries those.
 */
export async function dueRetries(now: Date, limit = 500, issuerId?: string): Promise<string[]> {
  const result = await getDb().execute<{ id: string }>(sql`
    select x.id from rotations x
     where x.state in ('planned', 'in_flight', 'new_credential_stored', 'verified')
       and x.stalled_at is null
       and (x.next_attempt_at <= ${now.toISOString()}::timestamptz
            or (x.next_attempt_at is null and x.updated_at < ${now.toISOString()}::timestamptz - make_interval(secs => ${STALE_AFTER_SECONDS})))
       ${issuerId ? sql`and exists (select 1 from registrations r where r.id = x.registration_id and r.issuer_id = ${issuerId}::uuid)` : sql``}
     order by coalesce(x.next_attempt_at, x.updated_at)
     limit ${limit}`);
  return result.rows.map((r) => r.id);
}

export type ScanResult = {
  renewalsRecomputed: number;
  unknownExpiry: number;
  /** Rotations this scan started (automatic policy, due). */
  started: string[];
  /** Rotations resumed after a back-off or a crash. */
  resumed: string[];
  cleanups: number;
  /** Due registrations under the manual policy: a warning, not a rotation. */
  manualDue: number;
  errors: number;
};

export type ScanOptions = {
  now?: Date;
  limit?: number;
  concurrency?: number;
  deps?: RotationDeps;
  /** Only this issuer's registrations (ops: "rotate what is due at this hospital now"; tests). */
  issuerId?: string;
  /** How a rotation is run: inline (tests, scripts) or handed to the job queue. */
  dispatch?: (rotationId: string) => Promise<void>;
  /** Hands many rotations over at once (the job queue inserts them in one statement); preferred over `dispatch`. */
  dispatchMany?: (rotationIds: string[]) => Promise<void>;
  /**
   * Hands over the rotations it resumes (after a back-off or a crash); default `dispatchMany`. The
   * job queue runs them one by one: a single run counts itself before any work (unfinished runs),
   * while a batch loads a hundred contexts first, so a crash there would go uncounted and repeat
   * on every scan.
   */
  dispatchResumed?: (rotationIds: string[]) => Promise<void>;
};

/**
 * The scheduled scan: recompute renewal times that are stale, start a rotation for every due
 * registration whose policy is automatic, resume rotations whose back-off is over, and run due
 * clean-ups. Safe to run on several instances at once: the unique index admits one active
 * rotation per registration, and each rotation runs under its registration's lock.
 */
export async function runRotationScan(opts: ScanOptions = {}): Promise<ScanResult> {
  const now = opts.now ?? new Date();
  const limit = opts.limit ?? 500;
  const actor = systemActor('job:rotation-scan');
  const reconciled = await reconcileRenewals({ issuerId: opts.issuerId });
  let errors = 0;

  const due = await dueForRenewal(now, 'automatic', limit, opts.issuerId);
  const started: string[] = [];
  // Planned and handed over a chunk at a time, so the first rotations run while the rest are planned.
  for (let i = 0; i < due.length; i += SCAN_CHUNK) {
    const created = await createRotations(actor, due.slice(i, i + SCAN_CHUNK), 'schedule');
    // A registration that cannot be rotated is counted; the registration page says why.
    errors += created.refused.length;
    const chunk = created.rotations.filter((r) => r.created).map((r) => r.rotation.id);
    started.push(...chunk);
    if (opts.dispatchMany && chunk.length) await opts.dispatchMany(chunk);
  }
  const resumed = (await dueRetries(now, limit, opts.issuerId)).filter((id) => !started.includes(id));
  const dispatchResumed = opts.dispatchResumed ?? opts.dispatchMany;
  if (dispatchResumed) {
    if (resumed.length) await dispatchResumed(resumed);
  } else {
    const dispatch = opts.dispatch ?? (async (id: string) => void (await resumeRotation(id, opts.deps ?? {})));
    const results = await mapWithConcurrency([...started, ...resumed], opts.concurrency ?? env().REGISTRAR_ROTATION_CONCURRENCY, dispatch);
    errors += results.filter((r) => r.status === 'rejected').length;
  }

  let cleanups = 0;
  for (const id of await dueCleanups(now, 100, opts.issuerId)) {
    try {
      if ((await runRotationCleanup(id, opts.deps ?? {})) !== 'skipped') cleanups++;
    } catch (error) {
      errors++;
      logger.error({ rotationId: id, err: errorSummary(error) }, 'rotation clean-up failed');
    }
  }
  const manualDue = (await dueForRenewal(now, 'manual', 10_000, opts.issuerId)).length;
  return { renewalsRecomputed: reconciled.updated, unknownExpiry: reconciled.unknown, started, resumed, cleanups, manualDue, errors };
}
