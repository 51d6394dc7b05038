import { describe, expect, it } from 'vitest';
import { migrationStatus } from './migrate';

const applied = (n: number) => async () => ({ rows: [{ n }] });

describe('migrationStatus', () => {
  it('is current when every migration of this build is applied, and also when a newer instance applied more (rolling deploy)', async () => {
    const { expected } = await migrationStatus(applied(0));
    expect(await migrationStatus(applied(expected))).toEqual({ expected, applied: expected, current: true });
    expect(await migrationStatus(applied(expected + 1))).toMatchObject({ current: true });
    expect(await migrationStatus(applied(expected - 1))).toMatchObject({ current: false });
  });
});
