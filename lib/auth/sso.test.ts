import { and, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { accounts, auditLog, users } from '@/db/schema';
import { putSetting } from '@/lib/settings/store';
import { completeSsoSignIn, resolveSsoUser } from './sso';

afterAll(closeDb);

describe('single sign-on user matching', () => {
  it('matches an existing active user by verified email (case-insensitive) and links the identity once', async () => {
    const user = await insertUser({ role: 'ops' });
    const sub = `sub-${uniqueSuffix()}`;
    expect((await resolveSsoUser({ sub, email: user.email.toUpperCase(), email_verified: true }))?.id).toBe(user.id);
    expect(await resolveSsoUser({ sub, email: user.email, email_verified: true })).toEqual({ id: user.id, sessionEpoch: 0 });
    expect(await getDb().select().from(accounts).where(eq(accounts.providerAccountId, sub))).toHaveLength(1);
  });

  it('refuses an unverified email, a deactivated user, and an unknown email outside the allowed domains', async () => {
    const user = await insertUser({ role: 'ops' });
    expect(await resolveSsoUser({ sub: `s-${uniqueSuffix()}`, email: user.email, email_verified: false })).toBeNull();
    expect(await resolveSsoUser({ sub: `s-${uniqueSuffix()}`, email: user.email })).toBeNull();
    const inactive = await insertUser({ role: 'ops', isActive: false });
    expect(await resolveSsoUser({ sub: `s-${uniqueSuffix()}`, email: inactive.email, email_verified: true })).toBeNull();
    const stranger = `stranger-${uniqueSuffix()}@elsewhere.test`;
    expect(await resolveSsoUser({ sub: `s-${uniqueSuffix()}`, email: stranger, email_verified: true })).toBeNull();
    expect(await getDb().select().from(users).where(eq(users.email, stranger))).toHaveLength(0);
  });

  it('signs up a verified user of a domain an admin allowed, as support (least privilege)', async () => {
    const domain = `allowed-${uniqueSuffix()}.test`;
    await putSetting(getDb(), 'sso.selfSignupDomains', [domain]);
    const id = (await resolveSsoUser({ sub: `s-${uniqueSuffix()}`, email: `new.person@${domain}`, email_verified: true, name: 'New Person' }))?.id;
    expect(id).toBeTruthy();
    const [row] = await getDb().select().from(users).where(eq(users.id, id!));
    expect(row).toMatchObject({ role: 'support', email: `new.person@${domain}`, passwordHash: null });
  });

  it('an SSO sign-in is audited like a password one, with the last sign-in time; a refused one is audited with its reason', async () => {
    const user = await insertUser({ role: 'ops' });
    expect(await completeSsoSignIn({ sub: `s-${uniqueSuffix()}`, email: user.email, email_verified: true })).toBe(user.id);
    const [row] = await getDb().select({ lastSignInAt: users.lastSignInAt }).from(users).where(eq(users.id, user.id));
    expect(row?.lastSignInAt?.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const signIns = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'auth.sign_in'), eq(auditLog.targetId, user.id)));
    expect(signIns).toEqual([expect.objectContaining({ outcome: 'success', actorId: user.id, role: 'ops', details: { method: 'sso' } })]);

    const inactive = await insertUser({ role: 'ops', isActive: false });
    expect(await completeSsoSignIn({ sub: `s-${uniqueSuffix()}`, email: inactive.email, email_verified: true })).toBeNull();
    expect(await completeSsoSignIn({ sub: `s-${uniqueSuffix()}`, email: inactive.email, email_verified: false })).toBeNull();
    const denied = (await getDb().select({ outcome: auditLog.outcome, details: auditLog.details }).from(auditLog).where(eq(auditLog.action, 'auth.sign_in')).orderBy(auditLog.id)).filter(
      (r) => (r.details as { email?: string } | null)?.email === inactive.email,
    );
    expect(denied).toEqual([
      { outcome: 'denied', details: { email: inactive.email, method: 'sso', reason: 'no_active_user' } },
      { outcome: 'denied', details: { email: inactive.email, method: 'sso', reason: 'email_not_verified' } },
    ]);
  });
});
