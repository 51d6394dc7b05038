import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { insertUser } from '@/db/factories';
import { users } from '@/db/schema';
import { textIn, uuidIn } from './any-of';
import { closeDb, getDb } from './client';

afterAll(closeDb);

describe('uuidIn and textIn', () => {
  it('bind the whole list as one parameter, whatever its length', () => {
    const ids = Array.from({ length: 300 }, () => randomUUID());
    const query = getDb().select({ id: users.id }).from(users).where(uuidIn(users.id, ids)).toSQL();
    expect(query.params).toEqual([ids]);
    expect(query.sql).toContain('= any($1::uuid[])');
  });

  it('match exactly the listed rows in PostgreSQL, and none for an empty list', async () => {
    const made = await Promise.all(Array.from({ length: 6 }, () => insertUser({ role: 'support' })));
    const listed = made.slice(0, 4);
    // Ids that match no row are simply not found.
    const byId = await getDb()
      .select({ id: users.id })
      .from(users)
      .where(uuidIn(users.id, [...listed.map((u) => u.id), randomUUID()]));
    expect(byId.map((r) => r.id).sort()).toEqual(listed.map((u) => u.id).sort());
    const byEmail = await getDb()
      .select({ email: users.email })
      .from(users)
      .where(textIn(users.email, listed.map((u) => u.email)));
    expect(byEmail.map((r) => r.email).sort()).toEqual(listed.map((u) => u.email).sort());
    expect(await getDb().select({ id: users.id }).from(users).where(uuidIn(users.id, []))).toEqual([]);
  });
});
