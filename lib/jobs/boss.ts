import 'server-only';
import PgBoss from 'pg-boss';
import { putSetting } from '@/lib/settings/store';
import { getDb } from '@/db/client';
import { errorSummary, logger } from '@/lib/logger';

export const QUEUES = {
  heartbeat: 'heartbeat',
  refreshAll: 'issuers-refresh-all',
  dailyDiscovery: 'issuers-daily-discovery',
  staleOperations: 'registrations-stale-operations',
} as const;

type Registrar = (boss: PgBoss) => Promise<void>;
const registrars: Registrar[] = [];
/** Domain modules register their queues and workers here; they are attached when the queue starts. */
export function onJobsStart(register: Registrar): void {
  registrars.push(register);
}

/** A queue whose last run on this instance failed: what failed and since when (cleared by a success). */
export type FailingQueue = { queue: string; since: string; error: string };

type JobsState = { boss: PgBoss | null; startedAt: Date | null; lastError: string | null; failing: Map<string, FailingQueue> };
const state = globalThis as unknown as { __registrarJobs?: JobsState };
function jobs(): JobsState {
  state.__registrarJobs ??= { boss: null, startedAt: null, lastError: null, failing: new Map() };
  state.__registrarJobs.failing ??= new Map();
  return state.__registrarJobs;
}

/**
 * A job handler whose failures are seen: pg-boss 10 records a thrown error only in its own job
 * table, so a handler that throws on every run (a scan that never starts a rotation) was silent.
 * The error is logged and the queue reported as failing by /api/health until a run succeeds; it is
 * rethrown so pg-boss's retry and failure handling stay as they are.
 */
export function recordedJob<A extends unknown[]>(queue: string, handler: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const s = jobs();
    try {
      await handler(...args);
      s.failing.delete(queue);
    } catch (error) {
      const summary = errorSummary(error);
      const previous = s.failing.get(queue);
      s.failing.set(queue, { queue, since: previous?.since ?? new Date().toISOString(), error: summary.code ?? summary.name ?? 'Error' });
      logger.error({ queue, err: summary }, 'job failed');
      throw error;
    }
  };
}

/**
 * Starts pg-boss on the application's database: one worker per instance. pg-boss coordinates
 * several instances through Postgres (SKIP LOCKED fetches, one scheduler), so running more than
 * one instance does not run a job twice.
 */
export async function startJobs(connectionString: string): Promise<PgBoss> {
  const s = jobs();
  if (s.boss) return s.boss;
  const boss = new PgBoss({ connectionString, schema: 'pgboss', max: 4 });
  boss.on('error', (error: Error) => {
    s.lastError = `${error.name}${'code' in error ? ` ${String(error.code)}` : ''}`;
    logger.error({ err: errorSummary(error) }, 'job queue error');
  });
  await boss.start();
  await boss.createQueue(QUEUES.heartbeat);
  // A no-op job that proves the wiring end to end: scheduled, fetched, completed.
  await boss.work(
    QUEUES.heartbeat,
    recordedJob(QUEUES.heartbeat, async () => {
      await putSetting(getDb(), 'jobs.lastHeartbeatAt', new Date().toISOString());
    }),
  );
  await boss.schedule(QUEUES.heartbeat, '* * * * *');
  await boss.send(QUEUES.heartbeat, {});
  for (const register of registrars) await register(boss);
  s.boss = boss;
  s.startedAt = new Date();
  return boss;
}

/** The running queue of this instance, or null (jobs disabled, or a script/test process). */
export function getBoss(): PgBoss | null {
  return jobs().boss;
}

export function jobsStatus(): { running: boolean; startedAt: string | null; lastError: string | null; failing: FailingQueue[] } {
  const s = jobs();
  return { running: s.boss !== null, startedAt: s.startedAt?.toISOString() ?? null, lastError: s.lastError, failing: [...s.failing.values()] };
}

/** Stops taking jobs and waits up to `timeoutMs` for the running ones to finish (pg-boss graceful stop). */
export async function stopJobs(timeoutMs = 5_000): Promise<void> {
  const s = jobs();
  if (!s.boss) return;
  const boss = s.boss;
  s.boss = null;
  await boss.stop({ graceful: true, timeout: timeoutMs });
}
