import { eq, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, users } from '@/db/schema';
import { createUser } from '@/lib/users/mutations';
import { recordAudit } from './record';

afterAll(closeDb);

describe('audit log', () => {
  it('rolls the mutation back when its audit row cannot be written', async () => {
    const admin = await insertUser({ role: 'admin' });
    const email = `probe-${uniqueSuffix()}@example.test`;
    const constraint = `audit_fail_probe_${uniqueSuffix()}`;
    // A real database failure on the audit insert only, for this one email.
    await getDb().execute(
      sql.raw(`alter table audit_log add constraint ${constraint} check ((details->>'email') is distinct from '${email}') not valid`),
    );
    try {
      const error = await createUser(admin.actor, { email, role: 'ops' }).catch((e: unknown) => e);
      expect((error as Error & { cause?: Error }).cause?.message).toContain(constraint);
    } finally {
      await getDb().execute(sql.raw(`alter table audit_log drop constraint ${constraint}`));
    }
    const rows = await getDb().select({ id: users.id }).from(users).where(eq(users.email, email));
    expect(rows).toHaveLength(0);
  });

  it('commits the mutation and its audit row together', async () => {
    const admin = await insertUser({ role: 'admin' });
    const created = await createUser(admin.actor, { email: `ok-${uniqueSuffix()}@example.test`, role: 'support' });
    const rows = await getDb().select().from(auditLog).where(eq(auditLog.targetId, created.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'user.create', outcome: 'success', actorId: admin.id, role: 'admin' });
    expect(JSON.stringify(rows[0]?.details)).not.toContain(created.password);
  });

  it('refuses UPDATE and DELETE on audit rows', async () => {
    const admin = await insertUser({ role: 'admin' });
    await recordAudit(getDb(), admin.actor, { action: 'test.append_only', targetId: admin.id });
    await expect(getDb().update(auditLog).set({ action: 'tampered' }).where(eq(auditLog.targetId, admin.id))).rejects.toThrow();
    await expect(getDb().delete(auditLog).where(eq(auditLog.targetId, admin.id))).rejects.toThrow();
    const [row] = await getDb().select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.targetId, admin.id));
    expect(row?.action).toBe('test.append_only');
  });

  it('redacts secret-bearing keys in details', async () => {
    const admin = await insertUser({ role: 'admin' });
    await recordAudit(getDb(), admin.actor, {
      action: 'test.redaction',
      targetId: admin.id,
      details: { client_secret: 'canary-1', nested: { registrationAccessToken: 'canary-2', token_endpoint: 'https://h/token' } },
    });
    const [row] = await getDb().select({ details: auditLog.details }).from(auditLog).where(eq(auditLog.targetId, admin.id));
    const text = JSON.stringify(row?.details);
    expect(text).not.toContain('canary');
    expect(text).toContain('https://h/token');
  });
});
