import PgBoss from 'pg-boss';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseUrl } from '@/db/client';
import { QUEUES } from './boss';
import { configureRefreshQueues, REFRESH_QUEUE_OPTIONS } from './handlers';

// A pg-boss of this test's own (own schema): no workers, nothing scheduled.
const boss = new PgBoss({ connectionString: databaseUrl(), schema: `pgboss_refresh_${process.pid}`, max: 2, supervise: false, schedule: false });

afterAll(async () => {
  await boss.stop({ graceful: false, wait: true }).catch(() => {});
});

describe('discovery queues', () => {
  it('are made single-attempt with hours to run, including queues an older version created with the defaults', async () => {
    await boss.start();
    // As an earlier version created them: no settings of their own, so pg-boss's defaults (15 minutes, two retries).
    await boss.createQueue(QUEUES.refreshAll);
    expect(await boss.getQueue(QUEUES.refreshAll)).toMatchObject({ retryLimit: null, expireInSeconds: null });
    await configureRefreshQueues(boss);
    for (const name of [QUEUES.refreshAll, QUEUES.dailyDiscovery]) {
      expect(await boss.getQueue(name), name).toMatchObject({ policy: 'standard', retryLimit: 0, expireInSeconds: REFRESH_QUEUE_OPTIONS.expireInSeconds });
    }
  });
});
