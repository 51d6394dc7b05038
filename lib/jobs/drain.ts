import 'server-only';
import { errorSummary, logger } from '@/lib/logger';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const state = globalThis as unknown as { __registrarDrainInstalled?: boolean };

/**
 * Deploys stop the server with SIGTERM. `next start` answers it by closing its HTTP server,
 * letting the requests in flight finish, and then calling process.exit — without waiting for the
 * job workers, so a rotation batch in the middle of its PUTs was cut off: its rotations recover,
 * but each counts an unfinished run, and after three a rotation waits for a person.
 *
 * On the first SIGTERM or SIGINT this calls `stop(timeoutMs)` (stop taking jobs, let the running
 * ones finish) and holds any process.exit until it has returned, or at most `timeoutMs` plus a
 * second, so a shutdown is never held up for longer. Installed once per process.
 */
export function drainJobsOnShutdown(stop: (timeoutMs: number) => Promise<void>, timeoutMs = 20_000): void {
  if (state.__registrarDrainInstalled) return;
  state.__registrarDrainInstalled = true;
  let draining: Promise<void> | null = null;
  const startDrain = (signal: NodeJS.Signals) => {
    if (draining) return;
    logger.info({ signal, timeoutMs }, 'stopping: letting running jobs finish');
    const bound = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs + 1000).unref());
    draining = Promise.race([stop(timeoutMs).catch((error: unknown) => logger.warn({ err: errorSummary(error) }, 'job queue did not stop cleanly')), bound]);
  };
  for (const signal of SIGNALS) process.once(signal, () => startDrain(signal));

  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    if (!draining) return exit(code);
    void draining.finally(() => exit(code));
    // Whoever called exit expects not to run on; Next's shutdown does nothing after it.
    return undefined as never;
  }) as typeof process.exit;
}
