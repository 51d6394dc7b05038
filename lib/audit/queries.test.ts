import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser } from '@/db/factories';
import { recordAudit } from './record';
import { auditFilterSchema, listAudit } from './queries';

afterAll(closeDb);

describe('listAudit paging', () => {
  it('pages through a snapshot: entries written between page 1 and page 2 do not shift page 2 (nothing repeated, nothing skipped)', async () => {
    const manager = await insertUser({ role: 'manager' });
    const target = randomUUID();
    const write = (n: number) => recordAudit(getDb(), manager.actor, { action: 'test.paging', targetType: 'test', targetId: target, details: { n } });
    for (let n = 1; n <= 6; n++) await write(n);
    const numbers = (rows: Array<{ details: unknown }>) => rows.map((r) => (r.details as { n: number }).n);

    const page1 = await listAudit(manager.actor, auditFilterSchema.parse({ target, pageSize: '3', page: '1' }));
    expect(numbers(page1.rows)).toEqual([6, 5, 4]);
    await write(7);
    await write(8);
    const asOf = String(page1.rows[0]!.id);
    const page2 = await listAudit(manager.actor, auditFilterSchema.parse({ target, pageSize: '3', page: '2', asOf }));
    expect(numbers(page2.rows)).toEqual([3, 2, 1]);
    expect(page2.total).toBe(6);
    // Without the snapshot, the two new entries push 5 and 4 onto page 2 a second time.
    expect(numbers((await listAudit(manager.actor, auditFilterSchema.parse({ target, pageSize: '3', page: '2' }))).rows)).toEqual([5, 4, 3]);
  });

  it('ignores a malformed asOf instead of failing the page', () => {
    expect(auditFilterSchema.parse({ asOf: 'abc' }).asOf).toBeUndefined();
    expect(auditFilterSchema.parse({ asOf: '-3' }).asOf).toBeUndefined();
  });
});
