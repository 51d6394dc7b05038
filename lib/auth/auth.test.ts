import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, signInThrottle, users } from '@/db/schema';
import { changeUserRole, createUser, resetUserPassword, setUserActive } from '@/lib/users/mutations';
import { findActiveUserById } from '@/lib/users/queries';
import { AppError } from '@/lib/errors';
import { can, PERMISSIONS } from './permissions';
import { hashPassword, verifyPassword } from './password';
import { sessionStillValid } from './session';
import { ANONYMOUS_FAILURES_AUDITED_PER_MINUTE, clientAddressFrom, verifyCredentials } from './sign-in';

afterAll(closeDb);

describe('permissions', () => {
  it.each([
    ['admin', 'users:manage', true],
    ['ops', 'users:manage', false],
    ['ops', 'health-systems:write', true],
    ['manager', 'health-systems:write', false],
    ['manager', 'audit:read', true],
    ['manager', 'export:run', true],
    ['support', 'audit:read', false],
    ['support', 'credentials:reveal', false],
    ['support', 'diagnostics:run', true],
    ['manager', 'credentials:reveal', false],
  ] as const)('%s %s → %s', (role, permission, expected) => {
    expect(can(role, permission)).toBe(expected);
  });

  it('gives admin every permission', () => {
    for (const p of PERMISSIONS) expect(can('admin', p)).toBe(true);
  });
});

describe('passwords', () => {
  it('verifies the right password and rejects a wrong one and a missing hash', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(hash).not.toContain('correct');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterx', hash)).toBe(false);
    expect(await verifyPassword('anything', null)).toBe(false);
  });
});

describe('local sign-in', () => {
  it('accepts the right password case-insensitively on email and records the sign-in', async () => {
    const user = await insertUser({ role: 'ops', password: 'a-long-password-1' });
    const result = await verifyCredentials(`  ${user.email.toUpperCase()} `, 'a-long-password-1', null);
    expect(result).toMatchObject({ ok: true, user: { id: user.id } });
  });

  it('refuses a deactivated user with the same generic result as a wrong password', async () => {
    const user = await insertUser({ role: 'ops', password: 'a-long-password-1', isActive: false });
    expect(await verifyCredentials(user.email, 'a-long-password-1', null)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyCredentials(user.email, 'wrong', null)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('throttles an email after five failures, even with the right password', async () => {
    const user = await insertUser({ role: 'ops', password: 'a-long-password-1' });
    for (let i = 0; i < 5; i++) expect((await verifyCredentials(user.email, `wrong-${i}`, null)).ok).toBe(false);
    expect(await verifyCredentials(user.email, 'a-long-password-1', null)).toEqual({ ok: false, reason: 'throttled' });
    const denied = await getDb().select().from(auditLog).where(eq(auditLog.action, 'auth.sign_in'));
    expect(denied.some((r) => r.outcome === 'denied' && (r.details as { email?: string })?.email === user.email)).toBe(true);
  });
});

describe('sign-in throttle under concurrency and behind proxies', () => {
  it('a burst of concurrent wrong guesses gets no more password checks than the limit allows', async () => {
    const user = await insertUser({ role: 'ops', password: 'a-long-password-1' });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => verifyCredentials(user.email, `wrong-${i}`, null)));
    // Each attempt is counted before its password is checked: exactly 5 are checked, the rest refused.
    expect(results.filter((r) => !r.ok && r.reason === 'invalid')).toHaveLength(5);
    expect(results.filter((r) => !r.ok && r.reason === 'throttled')).toHaveLength(35);
    expect(await verifyCredentials(user.email, 'a-long-password-1', null)).toEqual({ ok: false, reason: 'throttled' });
  });

  it('a successful sign-in clears the email count and takes its own attempt back from the address', async () => {
    const user = await insertUser({ role: 'ops', password: 'a-long-password-1' });
    const address = `203.0.113.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 4; i++) await verifyCredentials(user.email, `wrong-${i}`, address);
    expect((await verifyCredentials(user.email, 'a-long-password-1', address)).ok).toBe(true);
    const rows = await getDb().select().from(signInThrottle).where(inArray(signInThrottle.key, [`email:${user.email}`, `addr:${address}`]));
    expect(rows.map((r) => [r.key, r.failures])).toEqual([[`addr:${address}`, 4]]);
  });

  it('reads the client address from X-Forwarded-For only as far as the trusted proxies reach', () => {
    // With no trusted proxy the header is the client's own word: ignored.
    expect(clientAddressFrom('198.51.100.7', 0)).toBeNull();
    // One proxy appends the address it saw: the last entry; anything before it is the client's.
    expect(clientAddressFrom('6.6.6.6, 198.51.100.7', 1)).toBe('198.51.100.7');
    expect(clientAddressFrom(['6.6.6.6', '198.51.100.7, 10.0.0.2'], 2)).toBe('198.51.100.7');
    expect(clientAddressFrom('198.51.100.7', 2)).toBeNull();
    expect(clientAddressFrom(undefined, 1)).toBeNull();
  });
});

describe('user administration', () => {
  it('refuses a non-admin with FORBIDDEN and creates nothing', async () => {
    const ops = await insertUser({ role: 'ops' });
    const email = `nope-${uniqueSuffix()}@example.test`;
    await expect(createUser(ops.actor, { email, role: 'admin' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await getDb().select().from(users).where(eq(users.email, email))).toHaveLength(0);
  });

  it('reports a duplicate email as a CONFLICT on the email field', async () => {
    const admin = await insertUser({ role: 'admin' });
    const existing = await insertUser({ role: 'support' });
    const error = await createUser(admin.actor, { email: existing.email.toUpperCase(), role: 'ops' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'CONFLICT', details: { field: 'email' } });
  });

  it('changes a role and deactivates a user, and refuses to deactivate your own account', async () => {
    const admin = await insertUser({ role: 'admin' });
    const target = await insertUser({ role: 'support' });
    await changeUserRole(admin.actor, { userId: target.id, role: 'manager' });
    await setUserActive(admin.actor, { userId: target.id, active: false });
    const [row] = await getDb().select().from(users).where(eq(users.id, target.id));
    expect(row).toMatchObject({ role: 'manager', isActive: false });
    await expect(setUserActive(admin.actor, { userId: admin.id, active: false })).rejects.toMatchObject({ code: 'INVALID' });
    // A script passing the flag as a string is refused, not read as "true" (it would reactivate, past the self check).
    await expect(setUserActive(admin.actor, { userId: target.id, active: 'false' as unknown as boolean })).rejects.toMatchObject({ name: 'ZodError' });
    const [still] = await getDb().select().from(users).where(eq(users.id, target.id));
    expect(still?.isActive).toBe(false);
  });

  it('a password reset, a deactivation and a reactivation each end the user’s existing sessions; a later sign-in counts', async () => {
    const admin = await insertUser({ role: 'admin' });
    const target = await insertUser({ role: 'ops', password: 'correct horse battery staple' });
    const user = async () => (await findActiveUserById(target.id))!;
    let password = 'correct horse battery staple';
    const signIn = async () => {
      const result = await verifyCredentials(target.email, password, null);
      if (!result.ok) throw new Error('sign-in refused');
      return { epoch: result.user.sessionEpoch, signedInAt: Date.now() };
    };
    const before = await signIn();
    expect(sessionStillValid(before, await user())).toBe(true);

    ({ password } = await resetUserPassword(admin.actor, { userId: target.id }));
    expect(sessionStillValid(before, await user())).toBe(false);
    // A session that read the old hash before the reset committed, but finished after it (its
    // sign-in time is later than the reset's): it carries the old epoch, so it ends too.
    expect(sessionStillValid({ ...before, signedInAt: Date.now() + 60_000 }, await user())).toBe(false);
    const afterReset = await signIn();
    expect(sessionStillValid(afterReset, await user())).toBe(true);

    await setUserActive(admin.actor, { userId: target.id, active: false });
    await setUserActive(admin.actor, { userId: target.id, active: true });
    // The cookie from before the deactivation does not come back to life with the account.
    expect(sessionStillValid(afterReset, await user())).toBe(false);
    expect(sessionStillValid(await signIn(), await user())).toBe(true);
  });

  it('a session from before epochs were kept (no epoch in its token) is judged by its sign-in time', async () => {
    const admin = await insertUser({ role: 'admin' });
    const target = await insertUser({ role: 'ops' });
    const user = async () => (await findActiveUserById(target.id))!;
    const signedInBefore = Date.now() - 1;
    expect(sessionStillValid({ signedInAt: signedInBefore }, await user())).toBe(true);
    await resetUserPassword(admin.actor, { userId: target.id });
    expect(sessionStillValid({ signedInAt: signedInBefore }, await user())).toBe(false);
    expect(sessionStillValid({}, await user())).toBe(false);
    expect(sessionStillValid({ signedInAt: Date.now() + 1 }, await user())).toBe(true);
  });
});

describe('a flood of failed sign-ins with fresh emails', () => {
  it('is audited one by one only up to the limit a minute, then once as a flood', async () => {
    const anonymous = async (action: string) =>
      (await getDb().execute<{ n: string }>(sql`select count(*)::text as n from audit_log where action = ${action} and actor_type = 'anonymous' and at > now() - interval '1 minute'`)).rows[0]!.n;
    for (let batch = 0; batch < 12; batch++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => verifyCredentials(`flood-${batch}-${i}-${uniqueSuffix()}@nowhere.test`, 'wrong', null)));
    }
    expect(Number(await anonymous('auth.sign_in'))).toBeLessThanOrEqual(ANONYMOUS_FAILURES_AUDITED_PER_MINUTE + 10);
    expect(await anonymous('auth.sign_in_flood')).toBe('1');
  }, 60_000);
});
