import 'server-only';
import { env } from '@/lib/env';
import { systemActor } from '@/lib/auth/actor';
import { createRefreshAllOperation, markOperationFailed, runRefreshAll } from '@/lib/issuers/refresh-all';
import { registerRotationJobs } from '@/lib/rotation/jobs';
import { findStaleOperations } from '@/lib/registrations/reconcile';
import { onJobsStart, QUEUES, recordedJob } from './boss';

/** Wires the domain's jobs into pg-boss. Imported once at server start. */
export function registerJobHandlers(): void {
  registerRotationJobs();
  onJobsStart(async (boss) => {
    await boss.createQueue(QUEUES.refreshAll);
    await boss.work<{ operationId: string }>(
      QUEUES.refreshAll,
      recordedJob(QUEUES.refreshAll, async ([job]) => {
        if (!job) return;
        try {
          await runRefreshAll(job.data.operationId, { trigger: 'refresh-all' });
        } catch (error) {
          await markOperationFailed(job.data.operationId);
          throw error;
        }
      }),
    );

    await boss.createQueue(QUEUES.dailyDiscovery);
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
