import { afterAll, describe, expect, it } from 'vitest';
import { closeDb } from '@/db/client';
import { checkHealth } from '@/lib/health/check';
import { runEach } from '@/lib/rotation/jobs';
import { jobsStatus, recordedJob } from './boss';

afterAll(closeDb);

describe('job failures are seen', () => {
  it('a failing handler is rethrown for pg-boss, reported by health until a run succeeds', async () => {
    let fail = true;
    const handler = recordedJob('test-queue', async () => {
      if (fail) throw Object.assign(new Error('boom'), { code: '42P01' });
    });
    await expect(handler()).rejects.toThrow('boom');
    await expect(handler()).rejects.toThrow('boom');
    const failing = jobsStatus().failing.find((f) => f.queue === 'test-queue');
    expect(failing).toMatchObject({ queue: 'test-queue', error: '42P01' });
    expect((await checkHealth()).jobs.failing).toContainEqual(failing);
    expect((await checkHealth()).status).toBe('degraded');
    fail = false;
    await handler();
    expect(jobsStatus().failing.find((f) => f.queue === 'test-queue')).toBeUndefined();
  });

  it('runs every step of a job even when an earlier one fails, then fails with the first error', async () => {
    const ran: string[] = [];
    const step = (name: string, error?: Error) => async () => {
      ran.push(name);
      if (error) throw error;
    };
    await expect(runEach([step('scan', new Error('scan failed')), step('monitor'), step('deliver', new Error('deliver failed')), step('last')])).rejects.toThrow('scan failed');
    expect(ran).toEqual(['scan', 'monitor', 'deliver', 'last']);
    await expect(runEach([step('a'), step('b')])).resolves.toBeUndefined();
  });
});
