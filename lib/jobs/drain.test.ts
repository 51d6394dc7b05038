import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'registrar-drain-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts the stand-in server, sends SIGTERM once its slow job runs, and reports how it ended. */
function stopDuringJob(mode: 'drain' | 'no-drain'): Promise<{ code: number | null; jobFinished: boolean; ms: number }> {
  const out = path.join(tmp, `${mode}.txt`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=react-server', 'test/support/drain-child.ts', out, mode], {
      cwd: process.cwd(),
      env: { ...process.env, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let signalledAt = 0;
    child.stdout.on('data', (d: Buffer) => {
      if (!signalledAt && d.toString().includes('job started')) {
        signalledAt = performance.now();
        child.kill('SIGTERM');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, jobFinished: existsSync(out) && readFileSync(out, 'utf8') === 'done', ms: performance.now() - signalledAt });
    });
  });
}

describe('SIGTERM while a job runs (a deploy)', () => {
  it('lets the running job finish before the process exits, with the exit code the server chose', { timeout: 90_000 }, async () => {
    const drained = await stopDuringJob('drain');
    expect(drained).toMatchObject({ code: 143, jobFinished: true });
    // Held for the job (1.5 s), not for the whole drain limit (10 s).
    expect(drained.ms).toBeLessThan(8000);
  });

  it('without it, the server exits at once and the job is cut off', { timeout: 90_000 }, async () => {
    expect(await stopDuringJob('no-drain')).toMatchObject({ code: 143, jobFinished: false });
  });
});
