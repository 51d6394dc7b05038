/**
 * A server stand-in for lib/jobs/drain.test.ts: runs the job queue with one slow job and, like
 * `next start`, answers SIGTERM by exiting (143) soon after. Prints "job started" when the job runs;
 * the job writes `done` to the file in argv[2] when it finishes.
 */
import { writeFileSync } from 'node:fs';
import { databaseUrl } from '@/db/client';
import { onJobsStart, startJobs, stopJobs } from '@/lib/jobs/boss';
import { drainJobsOnShutdown } from '@/lib/jobs/drain';

const out = process.argv[2]!;
const drain = process.argv[3] === 'drain';
const queue = `drain-test-${process.pid}`;

// What next start does on SIGTERM once its HTTP server has closed (nothing in flight here).
process.on('SIGTERM', () => setTimeout(() => process.exit(143), 20));

onJobsStart(async (boss) => {
  await boss.createQueue(queue);
  await boss.work(queue, { pollingIntervalSeconds: 0.5 }, async () => {
    process.stdout.write('job started\n');
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(out, 'done');
  });
});
const boss = await startJobs(databaseUrl());
if (drain) drainJobsOnShutdown((timeoutMs) => stopJobs(timeoutMs), 10_000);
await boss.send(queue, {});
