import { describe, expect, it } from 'vitest';
import { expiryOf } from './expiry';

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

  it('never reports an unknown expiry as never', () => {
    expect(expiryOf('unknown', days(10), now).state).toBe('unknown');
  });
});
