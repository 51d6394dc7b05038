import 'server-only';
import type PgBoss from 'pg-boss';
import { env } from '@/lib/env';
import { systemActor } from '@/lib/auth/actor';
import { createRefreshAllOperation, markOperationFailed, runRefreshAll } from '@/lib/issuers/refresh-all';
import { registerRotationJobs } from '@/lib/rotation/jobs';
import { findStaleOperations } from '@/lib/registrations/reconcile';
import { onJobsStart, QUEUES, recordedJob } from './boss';

/**
 * A refresh of every issuer can run longer than pg-boss's default 15 minutes with many issuers.
 * pg-boss would then give up on the running handler (it keeps going) and retry the job, starting a
 * second and third full pass beside it. One attempt, allowed hours: a run that really died is
 * ended by createRefreshAllOperation (no progress for 20 minutes) and the next one starts.
 */
export const REFRESH_QUEUE_OPTIONS = { retryLimit: 0, expireInSeconds: 4 * 3600 } as const;

/** Creates the discovery queues with REFRESH_QUEUE_OPTIONS, and updates queues an older version created with the defaults. */
export async function configureRefreshQueues(boss: PgBoss): Promise<void> {
  for (const name of [QUEUES.refreshAll, QUEUES.dailyDiscovery]) {
    await boss.createQueue(name, { name, ...REFRESH_QUEUE_OPTIONS });
    await boss.updateQueue(name, { name, policy: 'standard', ...REFRESH_QUEUE_OPTIONS });
  }
}

/** Wires the domain's jobs into pg-boss. Imported once at server start. */
export function registerJobHandlers(): void {
  registerRotationJobs();
  onJobsStart(async (boss) => {
    await configureRefreshQueues(boss);
    await boss.work<{ operationId: string }>(
      QUEUES.refreshAll,
      recordedJob(QUEUES.refreshAll, async ([job]) => {
        if (!job) return;
        try {
          await runRefreshAll(job.data.operationId, { trigger: 'refresh-all', concurrency: env().REGISTRAR_DISCOVERY_CONCURRENCY });
        } catch (error) {
          await markOperationFailed(job.data.operationId);
          throw error;
        }
      }),
    );

    await boss.work(
      QUEUES.dailyDiscovery,
      recordedJob(QUEUES.dailyDiscovery, async () => {
        const { id, joined } = await createRefreshAllOperation(systemActor('job:daily-discovery'));
        if (joined) return; // a refresh is already running; it covers today's
        try {
          await runRefreshAll(id, { trigger: 'schedule', concurrency: env().REGISTRAR_DISCOVERY_CONCURRENCY });
        } catch (error) {
          await markOperationFailed(id);
          throw error;
        }
      }),
    );
    // pg-boss keeps one schedule per queue across all instances.
    await boss.schedule(QUEUES.dailyDiscovery, env().REGISTRAR_DISCOVERY_CRON);

    // Registration requests whose process died between the hospital's answer and the commit:
    // after two minutes in flight they are marked "outcome unknown" so a person reconciles them.
    await boss.createQueue(QUEUES.staleOperations);
    await boss.work(
      QUEUES.staleOperations,
      recordedJob(QUEUES.staleOperations, async () => {
        await findStaleOperations();
      }),
    );
    await boss.schedule(QUEUES.staleOperations, '*/2 * * * *');
  });
}
