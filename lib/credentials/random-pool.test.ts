import { describe, expect, it } from 'vitest';
import { freshRandomBytes } from './random-pool';

describe('freshRandomBytes', () => {
  it('returns the length asked for, for pooled and unpooled sizes', () => {
    for (const n of [0, 1, 12, 32, 256, 257, 20_000]) expect(freshRandomBytes(n)).toHaveLength(n);
  });

  it('never hands out the same bytes twice, across many refills of the pool', () => {
    const seen = new Set<string>();
    // 3,000 data keys: about 12 refills of the 8 KiB pool.
    for (let i = 0; i < 3000; i++) seen.add(freshRandomBytes(32).toString('hex'));
    expect(seen.size).toBe(3000);
  });

  it('gives the caller a copy: changing it changes nothing later draws return', () => {
    const first = freshRandomBytes(32);
    first.fill(0);
    const later = Array.from({ length: 50 }, () => freshRandomBytes(32));
    expect(later.some((b) => b.equals(Buffer.alloc(32)))).toBe(false);
    expect(first.buffer).not.toBe(later[0]!.buffer);
  });

  it('looks uniformly random (each bit set about half the time over 64 KiB)', () => {
    let ones = 0;
    const total = 64 * 1024;
    for (let i = 0; i < total / 16; i++) for (const byte of freshRandomBytes(16)) for (let b = 0; b < 8; b++) ones += (byte >> b) & 1;
    expect(Math.abs(ones / (total * 8) - 0.5)).toBeLessThan(0.01);
  });

  it('refuses a length that is not a count of bytes', () => {
    expect(() => freshRandomBytes(-1)).toThrow(RangeError);
    expect(() => freshRandomBytes(1.5)).toThrow(RangeError);
  });
});
