import { describe, expect, it } from 'vitest';
import { utcDay, utcMinute } from './format-time';

describe('utcMinute / utcDay', () => {
  it('shows UTC whatever the input zone, labelled, and a placeholder for nothing', () => {
    expect(utcMinute('2026-11-28T23:40:59.123-05:00')).toBe('2026-11-29 04:40 UTC');
    expect(utcMinute(new Date(Date.UTC(2026, 0, 2, 3, 4)))).toBe('2026-01-02 03:04 UTC');
    expect(utcMinute(null)).toBe('—');
    expect(utcMinute('not a date', 'never')).toBe('never');
    expect(utcDay('2026-11-28T23:40:00-05:00')).toBe('2026-11-29');
  });
});
