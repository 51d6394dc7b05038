import { describe, expect, it } from 'vitest';
import { withEnv } from '@/test/support/env';
import { env } from './env';

describe('cron settings', () => {
  it('accepts 5- and 6-field expressions and refuses anything else, naming the variable', async () => {
    for (const ok of ['*/2 * * * *', '0 7 * * MON-FRI', '30 */5 * * * *', ' 17 3 * * * ']) {
      await withEnv({ REGISTRAR_ROTATION_SCAN_CRON: ok }, () => expect(env().REGISTRAR_ROTATION_SCAN_CRON).toBe(ok.trim()));
    }
    for (const bad of ['every 10 minutes', '*/10 * * *', '* * * * * * *', '']) {
      await withEnv({ REGISTRAR_ROTATION_SCAN_CRON: bad }, () => expect(() => env(), bad).toThrow(/REGISTRAR_ROTATION_SCAN_CRON[\s\S]*cron expression of 5 fields/));
    }
  });
});
