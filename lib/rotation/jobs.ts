import 'server-only';
import type PgBoss from 'pg-boss';
import { Slots } from '@/lib/concurrency';
import { env } from '@/lib/env';
import { onJobsStart, recordedJob } from '@/lib/jobs/boss';
import { errorSummary, logger } from '@/lib/logger';
import { enqueueDailyDigest } from '@/lib/notifications/digest';
import { deliverPendingNotifications } from '@/lib/notifications/deliver';
import { runAppCredentialMonitor } from '@/lib/notifications/app-credentials';
import { runExpiryMonitor } from '@/lib/notifications/monitor';
import { runRotationBatch } from './batch';
import { resumeRotation } from './run';
import { runRotationScan } from './scan';

export const ROTATION_QUEUES = {
  /** The periodic scan (renewals, due rotations, retries, clean-ups), then expiry monitoring and deliveries. */
  scan: 'rotation-scan',
  /**
   * One job per rotation step run; `short` + singletonKey = rotation id: one queued per rotation.
   * Not `stately` (one queued and one active per key): there a run left active by a crashed instance
   * makes every fetch that meets the same rotation's next job fail on pg-boss's unique index, which
   * stops the whole queue until the dead job expires (pg-boss #535). Two runs of one rotation at
   * once are harmless: they take turns on the registration lock and every step is idempotent.
   */
  run: 'rotation-run',
  /** Many rotations in one job (what the scan starts): their database work shared, their PUTs `concurrency` at a time. */
  batch: 'rotation-batch',
  digest: 'notifications-digest',
} as const;

/** Hands a rotation to the queue; a rotation already queued is not queued twice (singleton key). */
export async function enqueueRotationRun(boss: PgBoss, rotationId: string): Promise<void> {
  await boss.send(ROTATION_QUEUES.run, { rotationId }, { singletonKey: rotationId, retryLimit: 0 });
}

/** Rotations per batch job: large enough to share the database work, small enough to spread over instances. */
export const ROTATION_BATCH_SIZE = 100;

/** Batch jobs one instance works at once (they share the instance's PUT slots). */
const BATCH_WORKERS = 2;

/** Queues rotations as batch jobs (one insert); a rotation queued twice is harmless (its run finds it done). */
export async function enqueueRotationBatches(boss: PgBoss, rotationIds: readonly string[]): Promise<void> {
  if (rotationIds.length === 0) return;
  const jobs = [];
  for (let i = 0; i < rotationIds.length; i += ROTATION_BATCH_SIZE) {
    jobs.push({ name: ROTATION_QUEUES.batch, data: { rotationIds: rotationIds.slice(i, i + ROTATION_BATCH_SIZE) }, retryLimit: 0 });
  }
  await boss.insert(jobs);
  for (const id of batchWorkerIds) boss.notifyWorker(id);
}

const batchWorkerIds = new Set<string>();

/** This process's rotation-run workers, woken when work is queued instead of waiting out their polling interval. */
const runWorkerIds = new Set<string>();

/** Many rotations in one insert (the scan, bulk rotation); the singleton key still skips those already queued. */
export async function enqueueRotationRuns(boss: PgBoss, rotationIds: readonly string[]): Promise<void> {
  if (rotationIds.length === 0) return;
  await boss.insert(rotationIds.map((rotationId) => ({ name: ROTATION_QUEUES.run, data: { rotationId }, singletonKey: rotationId, retryLimit: 0 })));
  for (const id of runWorkerIds) boss.notifyWorker(id);
}

/**
 * Registers the rotation and notification queues. Several instances may run them: pg-boss keeps
 * one schedule per queue, the scan queue is a singleton, run jobs are singletons per rotation, and
 * the database (one active rotation per registration, registration locks, leased deliveries)
 * guards the rest.
 */
export function registerRotationJobs(): void {
  onJobsStart(async (boss) => {
    const e = env();
    await boss.createQueue(ROTATION_QUEUES.scan, { name: ROTATION_QUEUES.scan, policy: 'singleton' });
    await boss.createQueue(ROTATION_QUEUES.run, { name: ROTATION_QUEUES.run, policy: 'short' });
    // A queue created as `stately` by an earlier version: new jobs get the queue's policy from now on.
    await boss.updateQueue(ROTATION_QUEUES.run, { name: ROTATION_QUEUES.run, policy: 'short' });
    await boss.createQueue(ROTATION_QUEUES.batch, { name: ROTATION_QUEUES.batch, policy: 'standard' });
    await boss.createQueue(ROTATION_QUEUES.digest, { name: ROTATION_QUEUES.digest, policy: 'singleton' });

    await boss.work(
      ROTATION_QUEUES.scan,
      recordedJob(ROTATION_QUEUES.scan, () =>
        // Each step runs even when one before it failed: a scan that throws must not also stop the
        // expiry monitor and webhook deliveries. The first failure fails the job (logged, health).
        runEach([
          () => runRotationScan({ dispatchMany: (ids) => enqueueRotationBatches(boss, ids), dispatchResumed: (ids) => enqueueRotationRuns(boss, ids) }),
          runExpiryMonitor,
          runAppCredentialMonitor,
          deliverPendingNotifications,
        ]),
      ),
    );
    // `concurrency` workers of one job each (no batch barrier); a worker that found a job looks for
    // the next at once instead of waiting out the polling interval.
    runWorkerIds.clear();
    for (let i = 0; i < e.REGISTRAR_ROTATION_CONCURRENCY; i++) {
      let workerId = '';
      workerId = await boss.work<{ rotationId: string }>(ROTATION_QUEUES.run, { batchSize: 1, pollingIntervalSeconds: 2 }, async ([job]) => {
        if (!job) return;
        if (workerId) boss.notifyWorker(workerId);
        try {
          await resumeRotation(job.data.rotationId);
        } catch (error) {
          // The rotation row keeps its state; the next scan resumes it.
          logger.error({ rotationId: job.data.rotationId, err: errorSummary(error) }, 'rotation run failed');
        }
      });
      runWorkerIds.add(workerId);
    }
    // Two batches at a time per instance, sharing `concurrency` PUT slots: while one batch's last
    // PUTs are out, the next locks, loads and marks its rotations, so the hospital is not left
    // waiting between batches; never more than `concurrency` batched PUTs at once, the older
    // batch served first (rotations handed to their own runs keep a limit of their own).
    batchWorkerIds.clear();
    const putSlots = new Slots(e.REGISTRAR_ROTATION_CONCURRENCY);
    for (let i = 0; i < BATCH_WORKERS; i++) {
      let batchWorker = '';
      batchWorker = await boss.work<{ rotationIds: string[] }>(ROTATION_QUEUES.batch, { batchSize: 1, pollingIntervalSeconds: 2 }, async ([job]) => {
        if (!job) return;
        if (batchWorker) boss.notifyWorker(batchWorker);
        try {
          await runRotationBatch(job.data.rotationIds, { slots: putSlots });
        } catch (error) {
          // The rotation rows keep their states; the next scan resumes them.
          logger.error({ count: job.data.rotationIds.length, err: errorSummary(error) }, 'rotation batch failed');
        }
      });
      batchWorkerIds.add(batchWorker);
    }
    await boss.work(ROTATION_QUEUES.digest, recordedJob(ROTATION_QUEUES.digest, () => runEach([enqueueDailyDigest, deliverPendingNotifications])));
    await boss.schedule(ROTATION_QUEUES.scan, e.REGISTRAR_ROTATION_SCAN_CRON);
    await boss.schedule(ROTATION_QUEUES.digest, e.REGISTRAR_NOTIFY_DIGEST_CRON);
  });
}

/** Runs every step in order whatever the earlier ones did, then throws the first failure (the others are logged). */
export async function runEach(steps: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  let first: unknown = null;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      if (first === null) first = error;
      else logger.error({ err: errorSummary(error) }, 'job step failed');
    }
  }
  if (first !== null) throw first;
}
