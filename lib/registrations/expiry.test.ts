import { describe, expect, it } from 'vitest';
import { withEnv } from '@/test/support/env';
import { monitorStateOf } from '@/lib/notifications/monitor';
import { expiringWindowDays, expiryOf } from './expiry';

const now = new Date('2026-11-28T12:00:00Z');
const days = (n: number) => new Date(now.getTime() + n * 86_400_000);

describe('expiryOf', () => {
  it.each([
    ['never', null, 'never'],
    ['none', null, 'none'],
    ['unknown', null, 'unknown'],
    ['at', days(90), 'ok'],
    ['at', days(29), 'expiring'],
    ['at', days(0.5), 'expiring'],
    ['at', days(-1), 'expired'],
    ['at', now, 'expired'],
  ] as const)('%s %s → %s', (kind, at, state) => {
    expect(expiryOf(kind, at, now).state).toBe(state);
  });

  it('counts whole days toward zero: hours either side of the expiry are 0 d, a day and a half ago is -1', () => {
    expect(expiryOf('at', days(29.9), now).daysLeft).toBe(29);
    expect(expiryOf('at', days(2 / 24), now).daysLeft).toBe(0);
    expect(expiryOf('at', days(-2 / 24), now).daysLeft).toBe(0);
    expect(expiryOf('at', days(-25 / 24), now).daysLeft).toBe(-1);
    expect(expiryOf('at', days(-1.5), now).daysLeft).toBe(-1);
  });

  it('never reports an unknown expiry as never', () => {
    expect(expiryOf('unknown', days(10), now).state).toBe('unknown');
  });

  it('is expiring within the widest configured threshold, on the monitor’s boundary', () => {
    expect(expiryOf('at', days(30), now, 30).state).toBe('expiring');
    expect(expiryOf('at', days(45), now, 30).state).toBe('ok');
    expect(expiryOf('at', days(45), now, 60).state).toBe('expiring');
    for (const offset of [0.5, 7, 29.9, 30, 30.1, 45]) {
      const monitored = monitorStateOf('at', days(offset), now, [30, 7, 1])!.state;
      expect(expiryOf('at', days(offset), now, 30).state, `${offset} days`).toBe(monitored);
    }
  });

  it('follows REGISTRAR_EXPIRY_THRESHOLDS_DAYS', async () => {
    await withEnv({ REGISTRAR_EXPIRY_THRESHOLDS_DAYS: '60,14,3' }, () => {
      expect(expiringWindowDays()).toBe(60);
      expect(expiryOf('at', days(45), now).state).toBe('expiring');
    });
  });
});
