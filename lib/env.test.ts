import { afterEach, describe, expect, it } from 'vitest';
import { env, resetEnvCache } from './env';

const saved = process.env.REGISTRAR_ROTATION_SCAN_CRON;
afterEach(() => {
  if (saved === undefined) delete process.env.REGISTRAR_ROTATION_SCAN_CRON;
  else process.env.REGISTRAR_ROTATION_SCAN_CRON = saved;
  resetEnvCache();
});

describe('cron settings', () => {
  it('accepts 5- and 6-field expressions and refuses anything else, naming the variable', () => {
    for (const ok of ['*/2 * * * *', '0 7 * * MON-FRI', '30 */5 * * * *', ' 17 3 * * * ']) {
      process.env.REGISTRAR_ROTATION_SCAN_CRON = ok;
      resetEnvCache();
      expect(env().REGISTRAR_ROTATION_SCAN_CRON).toBe(ok.trim());
    }
    for (const bad of ['every 10 minutes', '*/10 * * *', '* * * * * * *', '']) {
      process.env.REGISTRAR_ROTATION_SCAN_CRON = bad;
      resetEnvCache();
      expect(() => env(), bad).toThrow(/REGISTRAR_ROTATION_SCAN_CRON[\s\S]*cron expression of 5 fields/);
    }
  });
});
