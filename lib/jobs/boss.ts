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

type JobsState = { boss: PgBoss | null; startedAt: Date | null; lastError: string | null };
const state = globalThis as unknown as { __registrarJobs?: JobsState };
function jobs(): JobsState {
  state.__registrarJobs ??= { boss: null, startedAt: null, lastError: null };
  return state.__registrarJobs;
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
  await boss.work(QUEUES.heartbeat, async () => {
    await putSetting(getDb(), 'jobs.lastHeartbeatAt', new Date().toISOString());
  });
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

export function jobsStatus(): { running: boolean; startedAt: string | null; lastError: string | null } {
  const s = jobs();
  return { running: s.boss !== null, startedAt: s.startedAt?.toISOString() ?? null, lastError: s.lastError };
}

export async function stopJobs(): Promise<void> {
  const s = jobs();
  if (!s.boss) return;
  const boss = s.boss;
  s.boss = null;
  await boss.stop({ graceful: true, timeout: 5_000 });
}
