import { and, count, eq, inArray } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser } from '@/db/factories';
import { apiTokens, auditLog, healthSystems, users } from '@/db/schema';
import { systemActor } from '@/lib/auth/actor';
import { resetEnvCache } from '@/lib/env';
import { isAppError } from '@/lib/errors';
import { call, expectContract, expectProblem, makeToken } from './testing/client';
import { changeUserRole, setUserActive } from '@/lib/users/mutations';
import { authenticateApiToken, createApiToken, hashApiToken, listApiTokens, revokeApiToken } from './tokens';

let admin: Awaited<ReturnType<typeof insertUser>>;

beforeAll(async () => {
  admin = await insertUser({ role: 'admin' });
});

afterAll(async () => {
  await closeDb();
});

afterEach(() => {
  delete process.env.REGISTRAR_API_RATE_LIMIT;
  delete process.env.REGISTRAR_API_RATE_WINDOW_SECONDS;
  resetEnvCache();
});

async function auditRows(action: string, actorId: string) {
  return getDb().select().from(auditLog).where(and(eq(auditLog.action, action), eq(auditLog.actorId, actorId)));
}

describe('API tokens', () => {
  it('are stored as a SHA-256 hash with a recognisable prefix; the token itself is returned once', async () => {
    const created = await createApiToken(admin.actor, { name: 'ci', role: 'ops' });
    expect(created.token).toMatch(/^rgt_[A-Za-z0-9_-]{43}$/);
    const [row] = await getDb().select().from(apiTokens).where(eq(apiTokens.id, created.id));
    expect(row!.tokenHash).toBe(hashApiToken(created.token));
    expect(JSON.stringify(row)).not.toContain(created.token);
    expect(row!.prefix).toBe(created.token.slice(0, 12));
    const listed = (await listApiTokens(admin.actor)).find((t) => t.id === created.id)!;
    expect(JSON.stringify(listed)).not.toContain(created.token);
    expect(listed).not.toHaveProperty('tokenHash');
    const [audit] = await auditRows('api_token.create', admin.id);
    expect(audit).toMatchObject({ targetId: created.id, outcome: 'success' });
  });

  it('refuses a permission subset the role does not grant, and a write permission without its read', async () => {
    for (const [role, permissions, pattern] of [
      ['support', ['credentials:read'], /support role does not grant credentials:read/],
      ['manager', ['registrations:write', 'registrations:read'], /does not grant registrations:write/],
      ['ops', ['registrations:write'], /needs registrations:read/],
    ] as const) {
      const error = await createApiToken(admin.actor, { name: 'x', role, permissions: [...permissions] }).catch((e: unknown) => e);
      expect(isAppError(error) && error.code).toBe('INVALID');
      expect((error as Error).message).toMatch(pattern);
    }
  });

  it('only admins create or revoke tokens', async () => {
    const ops = await insertUser({ role: 'ops' });
    await expect(createApiToken(ops.actor, { name: 'x', role: 'support' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const t = await makeToken('support');
    await expect(revokeApiToken(ops.actor, { id: t.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const [row] = await getDb().select({ revokedAt: apiTokens.revokedAt }).from(apiTokens).where(eq(apiTokens.id, t.id));
    expect(row!.revokedAt).toBeNull();
  });
});

describe('API tokens end with their creator’s access', () => {
  it('a lowered role revokes the tokens that can do more than it; deactivation revokes the rest; a CLI token and other people’s stay', async () => {
    const creator = await insertUser({ role: 'admin' });
    const adminToken = await createApiToken(creator.actor, { name: 'creator-admin', role: 'admin' });
    const opsToken = await createApiToken(creator.actor, { name: 'creator-ops', role: 'ops' });
    const narrowed = await createApiToken(creator.actor, { name: 'creator-admin-read-only', role: 'admin', permissions: ['registrations:read'] });
    const others = await createApiToken(admin.actor, { name: 'someone-else', role: 'admin' });
    const cli = await createApiToken(systemActor('cli:token:create'), { name: 'deploy', role: 'admin' });
    const alive = async (token: string) =>
      authenticateApiToken(`Bearer ${token}`, 'test').then(
        () => true,
        (e: unknown) => (isAppError(e) && e.code === 'UNAUTHENTICATED' ? false : Promise.reject(e)),
      );

    const demoted = await changeUserRole(admin.actor, { userId: creator.id, role: 'ops' });
    expect(demoted.revokedApiTokens).toEqual(['creator-admin']);
    expect(await alive(adminToken.token)).toBe(false);
    expect(await alive(opsToken.token)).toBe(true);
    // Its permissions are narrowed to what ops may do as well: kept.
    expect(await alive(narrowed.token)).toBe(true);

    const deactivated = await setUserActive(admin.actor, { userId: creator.id, active: false });
    expect(deactivated.revokedApiTokens.sort()).toEqual(['creator-admin-read-only', 'creator-ops']);
    for (const t of [opsToken, narrowed]) expect(await alive(t.token)).toBe(false);
    expect(await alive(others.token)).toBe(true);
    expect(await alive(cli.token)).toBe(true);

    const revocations = await getDb()
      .select({ targetId: auditLog.targetId, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'api_token.revoke'), eq(auditLog.actorId, admin.id)));
    const byToken = new Map(revocations.map((r) => [r.targetId, r.details]));
    expect(byToken.get(adminToken.id)).toMatchObject({ reason: "its creator's role is now ops", creatorId: creator.id });
    expect(byToken.get(opsToken.id)).toMatchObject({ reason: 'its creator was deactivated' });
    // The person's own audit rows name the tokens that ended with the change (names are not secrets).
    const userRows = await getDb()
      .select({ action: auditLog.action, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.targetId, creator.id), inArray(auditLog.action, ['user.change_role', 'user.deactivate'])));
    expect(userRows.find((r) => r.action === 'user.change_role')?.details).toMatchObject({ revokedApiTokenNames: ['creator-admin'] });
    expect(userRows.find((r) => r.action === 'user.deactivate')?.details).toMatchObject({ revokedApiTokenNames: expect.arrayContaining(['creator-admin-read-only', 'creator-ops']) });
    // Reactivating the person does not bring their tokens back.
    expect((await setUserActive(admin.actor, { userId: creator.id, active: true })).revokedApiTokens).toEqual([]);
    expect(await alive(opsToken.token)).toBe(false);
  });

  it('a creator whose session began before their deactivation or demotion cannot create a token after it', async () => {
    const creator = await insertUser({ role: 'admin' });
    const staleSession = creator.actor; // what their session said when the request began
    await changeUserRole(admin.actor, { userId: creator.id, role: 'ops' });
    await expect(createApiToken(staleSession, { name: 'after-demotion', role: 'admin' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/role is now ops/) });
    await changeUserRole(admin.actor, { userId: creator.id, role: 'admin' });
    await setUserActive(admin.actor, { userId: creator.id, active: false });
    await expect(createApiToken(staleSession, { name: 'after-deactivation', role: 'admin' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/no longer active/) });
    const made = await getDb().select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.createdByUserId, creator.id));
    expect(made).toHaveLength(0);
  });
});

describe('a token whose creator lost access in a way that revoked nothing (tokens older than creator records, a change that committed beside the token)', () => {
  it('is refused and revoked at its next use, audited with the reason', async () => {
    const creator = await insertUser({ role: 'admin' });
    const kept = await createApiToken(creator.actor, { name: 'kept-by-ops', role: 'ops' });
    const beyond = await createApiToken(creator.actor, { name: 'beyond-ops', role: 'admin' });
    // Changed behind Registrar's back: nothing revoked.
    await getDb().update(users).set({ role: 'ops' }).where(eq(users.id, creator.id));
    expect((await authenticateApiToken(`Bearer ${kept.token}`, 'test')).role).toBe('ops');
    await expect(authenticateApiToken(`Bearer ${beyond.token}`, 'test')).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'This API token was revoked.' });
    await getDb().update(users).set({ isActive: false }).where(eq(users.id, creator.id));
    await expect(authenticateApiToken(`Bearer ${kept.token}`, 'test')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    const rows = await getDb().select({ id: apiTokens.id, revokedAt: apiTokens.revokedAt }).from(apiTokens).where(inArray(apiTokens.id, [kept.id, beyond.id]));
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);
    const reasons = await getDb()
      .select({ targetId: auditLog.targetId, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'api_token.revoke'), inArray(auditLog.targetId, [kept.id, beyond.id])));
    expect(new Map(reasons.map((r) => [r.targetId, (r.details as { reason: string }).reason]))).toEqual(
      new Map([
        [beyond.id, "its creator's role is now ops"],
        [kept.id, 'its creator was deactivated'],
      ]),
    );
  });
});

describe('authentication (401 problem+json)', () => {
  it('without a token, with a malformed one and with an unknown one', async () => {
    const none = await call('GET', '/health-systems');
    expectProblem(none, 401, 'UNAUTHENTICATED');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="registrar"$/);
    const basic = await call('GET', '/health-systems', { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expectProblem(basic, 401, 'UNAUTHENTICATED');
    const malformed = await call('GET', '/health-systems', { token: 'not-a-token' });
    expectProblem(malformed, 401, 'UNAUTHENTICATED');
    expect(malformed.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const unknown = await call('GET', '/health-systems', { token: `rgt_${'A'.repeat(43)}` });
    expect((expectProblem(unknown, 401, 'UNAUTHENTICATED').detail as string)).toMatch(/not known/);
  });

  it('a revoked token is refused at once, and its use is audited as denied', async () => {
    const t = await makeToken('ops');
    expectContract('listHealthSystems', await call('GET', '/health-systems', { token: t.token }), 200);
    await revokeApiToken(admin.actor, { id: t.id });
    const res = await call('GET', '/health-systems', { token: t.token });
    expect((expectProblem(res, 401, 'UNAUTHENTICATED').detail as string)).toMatch(/revoked/);
    const [denied] = await getDb().select().from(auditLog).where(and(eq(auditLog.actorId, t.id), eq(auditLog.action, 'api.authenticate')));
    expect(denied).toMatchObject({ actorType: 'api_token', outcome: 'denied', details: { reason: 'revoked' } });
    await expect(revokeApiToken(admin.actor, { id: t.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    // Whoever holds it cannot flood the audit log: every use is refused, one a minute is audited.
    for (let i = 0; i < 10; i++) expectProblem(await call('GET', '/health-systems', { token: t.token }), 401, 'UNAUTHENTICATED');
    const [audited] = await getDb().select({ n: count() }).from(auditLog).where(and(eq(auditLog.actorId, t.id), eq(auditLog.action, 'api.authenticate')));
    expect(audited?.n).toBe(1);
  });

  it('an expired token is refused', async () => {
    const t = await makeToken('ops', { expiresInDays: 1 });
    expect((await call('GET', '/me', { token: t.token })).status).toBe(200);
    await getDb().update(apiTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(apiTokens.id, t.id));
    const res = await call('GET', '/me', { token: t.token });
    expect((expectProblem(res, 401, 'UNAUTHENTICATED').detail as string)).toMatch(/expired/);
  });

  it('records the last use of a token and reports its effective permissions', async () => {
    const t = await makeToken('ops', { permissions: ['registrations:read', 'credentials:read'] });
    const me = expectContract('getMe', await call('GET', '/me', { token: t.token }), 200);
    expect(me).toMatchObject({ id: t.id, role: 'ops', permissions: ['registrations:read', 'credentials:read'], expiresAt: null });
    const [row] = await getDb().select({ lastUsedAt: apiTokens.lastUsedAt }).from(apiTokens).where(eq(apiTokens.id, t.id));
    expect(row!.lastUsedAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once a token used up its window, per token, and lets it through in the next window', async () => {
    process.env.REGISTRAR_API_RATE_LIMIT = '3';
    process.env.REGISTRAR_API_RATE_WINDOW_SECONDS = '2';
    resetEnvCache();
    const t = await makeToken('support');
    const other = await makeToken('support');
    for (let i = 0; i < 3; i++) {
      const ok = await call('GET', '/me', { token: t.token });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-remaining')).toBe(String(2 - i));
    }
    const limited = await call('GET', '/me', { token: t.token });
    const problem = expectProblem(limited, 429, 'RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    expect(problem.retryAfterSeconds).toBe(retryAfter);
    expect((await call('GET', '/me', { token: other.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await call('GET', '/me', { token: t.token })).status).toBe(200);
  });

  it('a rate-limited write changes nothing', async () => {
    process.env.REGISTRAR_API_RATE_LIMIT = '1';
    resetEnvCache();
    const t = await makeToken('ops');
    expect((await call('GET', '/me', { token: t.token })).status).toBe(200);
    const name = `Limited ${t.id}`;
    expectProblem(await call('POST', '/health-systems', { token: t.token, body: { name } }), 429, 'RATE_LIMITED');
    const [{ n }] = (await getDb().select({ n: count() }).from(healthSystems).where(eq(healthSystems.name, name))) as [{ n: number }];
    expect(n).toBe(0);
  });
});

describe('the token-create script path', () => {
  it('system actor (the script) can create a token with a permission subset', async () => {
    const t = await createApiToken(systemActor('cli:token:create'), { name: 'deploy', role: 'ops', permissions: ['credentials:read'], expiresInDays: 30 });
    expect(t.permissions).toEqual(['credentials:read']);
    expect(t.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });
});
