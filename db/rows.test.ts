import { getTableColumns } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowFromDriver } from './rows';
import { rotations } from './schema';

/** A rotations row as drizzle's session receives it from `returning *` (timestamps as text). */
function driverRow(): Record<string, unknown> {
  const row: Record<string, unknown> = Object.fromEntries(Object.values(getTableColumns(rotations)).map((c) => [c.name, null]));
  return {
    ...row,
    id: '6f1c1f7e-8d1b-4c55-9a2e-3f0f6f5f1a01',
    registration_id: '6f1c1f7e-8d1b-4c55-9a2e-3f0f6f5f1a02',
    strategy: 'rfc7592_update',
    state: 'planned',
    trigger: 'bulk',
    attempt: 0,
    register_attempt: 1,
    plan: { steps: ['update'], why: 'because' },
    created_at: '2026-11-28 12:00:00.123+00',
    updated_at: '2026-11-28 12:00:00.123+00',
  };
}

describe('rowFromDriver', () => {
  it('maps column names to properties with each column’s own mapping', () => {
    const rotation = rowFromDriver(rotations, driverRow());
    expect(rotation).toMatchObject({ registrationId: '6f1c1f7e-8d1b-4c55-9a2e-3f0f6f5f1a02', strategy: 'rfc7592_update', registerAttempt: 1, plan: { steps: ['update'], why: 'because' }, finishedAt: null });
    expect(rotation.createdAt).toEqual(new Date('2026-11-28T12:00:00.123Z'));
  });

  it('refuses a row that lacks a column instead of calling it null', () => {
    const { created_at: _, ...row } = driverRow();
    expect(() => rowFromDriver(rotations, row)).toThrow(/no "created_at" column for rotations/);
  });
});
