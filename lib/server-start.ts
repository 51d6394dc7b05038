import 'server-only';
import { databaseUrl } from '@/db/client';
import { issueSetupTokenIfNoUsers } from '@/lib/auth/setup';
import { env } from '@/lib/env';
import { startJobs, stopJobs } from '@/lib/jobs/boss';
import { drainJobsOnShutdown } from '@/lib/jobs/drain';
import { registerJobHandlers } from '@/lib/jobs/handlers';
import { errorSummary, logger } from '@/lib/logger';

export async function startServer(): Promise<void> {
  const e = env();
  if (!e.REGISTRAR_DISABLE_JOBS) {
    registerJobHandlers();
    try {
      await startJobs(databaseUrl());
      // A deploy's SIGTERM lets running jobs (a rotation batch's PUTs) finish before the process exits.
      drainJobsOnShutdown((timeoutMs) => stopJobs(timeoutMs));
      logger.info('job queue started');
    } catch (error) {
      logger.error({ err: errorSummary(error) }, 'job queue failed to start');
    }
  }
  const token = await issueSetupTokenIfNoUsers();
  if (token) {
    // Printed plainly (not only as JSON) so the person starting the server can click it.
    const link = `${e.REGISTRAR_PUBLIC_URL.replace(/\/$/, '')}/setup?token=${token}`;
    process.stdout.write(`\nNo users yet. Create the first admin (one-time link, valid 24 hours):\n  ${link}\n\n`);
  }
}
