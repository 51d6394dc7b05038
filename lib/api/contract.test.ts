import { randomUUID } from 'node:crypto';
import { and, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { apps, auditLog, healthSystems, issuers, registrationOperations, registrations, rotations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { MAX_BODY_BYTES } from './handler';
import { errorStatuses } from './openapi';
import { operations } from './operations';
import { call, expectContract, expectProblem, makeToken, type ApiResult } from './testing/client';
import { dispatch } from './testing/routes';

/**
 * Contract tests for every /api/v1 operation, calling the route handlers in-process (the same
 * functions Next.js calls) against a real PostgreSQL and the sandbox hospitals on loopback.
 */

let sandbox: Sandbox;
type Tok = Awaited<ReturnType<typeof makeToken>>;
let admin: Tok, ops: Tok, manager: Tok, support: Tok, credsOnly: Tok, opsReadOnly: Tok;

const key = () => `${randomUUID()}-${randomUUID()}`;
const countOf = async (table: typeof healthSystems | typeof issuers | typeof apps | typeof registrations | typeof registrationOperations | typeof rotations) =>
  Number(((await getDb().select({ n: count() }).from(table)) as [{ n: number }])[0].n);

async function deniedAudit(tokenId: string, operationId: string) {
  return getDb()
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.actorId, tokenId), eq(auditLog.action, `api.${operationId}`), eq(auditLog.outcome, 'denied')));
}

/** Refused with 403 FORBIDDEN, audited, and the given tables unchanged. */
async function expectRefused(res: Promise<ApiResult>, token: Tok, operationId: string, tables: Array<Parameters<typeof countOf>[0]> = []) {
  const before = await Promise.all(tables.map(countOf));
  const r = await res;
  expectProblem(r, 403, 'FORBIDDEN');
  expect(await Promise.all(tables.map(countOf))).toEqual(before);
  expect((await deniedAudit(token.id, operationId)).length).toBeGreaterThan(0);
  return r;
}

const profile = (suffix: string, redirectUris = ['https://app.example.com/callback']) => ({
  name: `API App ${suffix}`,
  softwareId: `com.example.api.${suffix}`,
  softwareVersion: '1.0.0',
  clientUri: 'https://app.example.com',
  contacts: ['ops@example.com'],
  environments: {
    production: {
      redirectUris,
      grantTypes: ['authorization_code', 'client_credentials'],
      responseTypes: ['code'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      scope: 'openid fhirUser launch/patient patient/Observation.rs',
    },
  },
});

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {}, generalSecretTtlSeconds: 90 * 86_400 });
  const user = await insertUser({ role: 'admin' });
  for (const origin of [sandbox.general.origin, sandbox.mercy.origin, sandbox.epic.origin]) {
    await addAllowlistEntry(user.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
  }
  [admin, ops, manager, support, credsOnly, opsReadOnly] = await Promise.all([
    makeToken('admin'),
    makeToken('ops'),
    makeToken('manager'),
    makeToken('support'),
    makeToken('ops', { permissions: ['credentials:read'], name: 'creds-only' }),
    makeToken('ops', { permissions: ['health-systems:read', 'registrations:read'], name: 'ops-read-only' }),
  ]);
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
});

/** General Hospital's issuer (added once: an issuer URL is unique) and a new app, through the API. */
let general: { hs: { id: string; name: string }; issuer: { id: string } } | undefined;
async function onboard(suffix = uniqueSuffix()) {
  if (!general) {
    const hs = expectContract('createHealthSystem', await call('POST', '/health-systems', { token: ops.token, body: { name: `API General ${suffix}` } }), 201);
    const issuer = expectContract('addIssuer', await call('POST', '/issuers', { token: ops.token, body: { healthSystemId: hs.id, url: sandbox.general.fhirBase, environment: 'sandbox' } }), 201);
    general = { hs: hs as { id: string; name: string }, issuer: issuer as { id: string } };
  }
  const app = expectContract('createApp', await call('POST', '/apps', { token: ops.token, body: profile(suffix) }), 201);
  return { ...general, app: app as { id: string; version: number }, suffix };
}

async function register(issuerId: string, appId: string, idempotencyKey = key(), extra: Record<string, unknown> = {}) {
  return call('POST', '/registrations', { token: ops.token, body: { issuerId, appId, environment: 'production', ...extra }, headers: { 'Idempotency-Key': idempotencyKey } });
}

describe('problem+json and validation', () => {
  it('a body that fails the schema is 400 INVALID with each field', async () => {
    const res = await call('POST', '/health-systems', { token: ops.token, body: { name: '', contacts: [{ email: 'not-an-email' }] } });
    const problem = expectProblem(res, 400, 'INVALID');
    const paths = (problem.errors as Array<{ path: string }>).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'contacts']));
    expect(res.headers.get('x-request-id')).toBe(problem.requestId);
    expect(problem.instance).toBe('/api/v1/health-systems');
  });

  it('a body that is not JSON, or not sent as JSON, is 400', async () => {
    expectProblem(await call('POST', '/health-systems', { token: ops.token, rawBody: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'INVALID');
    expectProblem(await call('POST', '/health-systems', { token: ops.token, rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'INVALID');
    expectProblem(await call('POST', '/health-systems', { token: ops.token }), 400, 'INVALID');
  });

  it('a body over 1 MB is 413 and nothing is created: counted in bytes, and an endless body is not read to its end', async () => {
    const before = await countOf(healthSystems);
    // 400,000 euro signs: 400,000 characters but 1.2 MB of UTF-8.
    const wide = await call('POST', '/health-systems', { token: ops.token, rawBody: JSON.stringify({ name: `Big ${uniqueSuffix()}`, notes: '€'.repeat(400_000) }), headers: { 'content-type': 'application/json' } });
    expect(expectProblem(wide, 413, 'INVALID').detail).toBe('The request body is too large (1 MB at most).');
    // A chunked body that never ends: refused once it passes the limit, with no more than that read.
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const response = await dispatch(
      new Request('http://registrar.test/api/v1/health-systems', { method: 'POST', headers: { authorization: `Bearer ${ops.token}`, 'content-type': 'application/json' }, body: endless, duplex: 'half' } as RequestInit),
    );
    expect(response.status).toBe(413);
    expect(pulled).toBeLessThan(MAX_BODY_BYTES + 512 * 1024);
    // A declared length over the limit is refused before the body is read.
    const declared = await dispatch(
      new Request('http://registrar.test/api/v1/health-systems', { method: 'POST', headers: { authorization: `Bearer ${ops.token}`, 'content-type': 'application/json', 'content-length': String(MAX_BODY_BYTES + 1) }, body: '{}' }),
    );
    expect(declared.status).toBe(413);
    expect(await countOf(healthSystems)).toBe(before);
    expect(errorStatuses(operations.createHealthSystem).get(413)).toEqual(['INVALID (request body over 1 MB)']);
  });

  it('a body that is not UTF-8 is 400 with that reason', async () => {
    const response = await dispatch(
      new Request('http://registrar.test/api/v1/health-systems', { method: 'POST', headers: { authorization: `Bearer ${ops.token}`, 'content-type': 'application/json' }, body: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]) }),
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toBe('The request body is not valid UTF-8.');
  });

  it('a malformed id is 400, an unknown one 404, an unknown path 404 problem+json', async () => {
    const bad = expectProblem(await call('GET', '/health-systems/not-a-uuid', { token: ops.token }), 400, 'INVALID');
    expect((bad.errors as Array<{ path: string }>)[0]!.path).toBe('path.id');
    expectProblem(await call('GET', `/health-systems/${randomUUID()}`, { token: ops.token }), 404, 'NOT_FOUND');
    expectProblem(await call('GET', '/no-such-thing', { token: ops.token }), 404, 'NOT_FOUND');
  });

  it('a query parameter out of range is 400, not silently the default', async () => {
    expectProblem(await call('GET', '/registrations?pageSize=7', { token: ops.token }), 400, 'INVALID');
    expectProblem(await call('GET', '/registrations?status=sleeping', { token: ops.token }), 400, 'INVALID');
    expectProblem(await call('GET', '/audit?outcome=maybe', { token: manager.token }), 400, 'INVALID');
    expectProblem(await call('GET', '/health-systems?page=0', { token: ops.token }), 400, 'INVALID');
  });
});

describe('health systems', () => {
  it('create (201 + Location), list (paginated) and read one', async () => {
    const name = `Contract Hospital ${uniqueSuffix()}`;
    const res = await call('POST', '/health-systems', { token: ops.token, body: { name, tags: ['east'], contacts: [{ name: 'Ada', email: 'ada@example.org' }] } });
    const created = expectContract('createHealthSystem', res, 201);
    expect(res.headers.get('location')).toBe(`/api/v1/health-systems/${created.id}`);
    const list = expectContract('listHealthSystems', await call('GET', '/health-systems?pageSize=100', { token: support.token }), 200);
    expect(list).toMatchObject({ page: 1, pageSize: 100 });
    expect((list.items as Array<{ id: string }>).some((h) => h.id === created.id)).toBe(true);
    expect(list.total).toBeGreaterThanOrEqual((list.items as unknown[]).length);
    const paged = expectContract('listHealthSystems', await call('GET', '/health-systems?pageSize=1&page=1', { token: support.token }), 200);
    expect((paged.items as unknown[]).length).toBe(1);
    const one = expectContract('getHealthSystem', await call('GET', `/health-systems/${created.id}`, { token: support.token }), 200);
    expect(one).toMatchObject({ name, tags: ['east'], contacts: [{ name: 'Ada', email: 'ada@example.org' }], issuers: [] });
    expect(String(one.createdAt)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a duplicate name is 409 CONFLICT', async () => {
    const name = `Twice ${uniqueSuffix()}`;
    expect((await call('POST', '/health-systems', { token: ops.token, body: { name } })).status).toBe(201);
    expectProblem(await call('POST', '/health-systems', { token: ops.token, body: { name: name.toUpperCase() } }), 409, 'CONFLICT');
  });

  it('support, manager and a read-only ops token are refused with nothing created', async () => {
    for (const t of [support, manager, opsReadOnly]) {
      await expectRefused(call('POST', '/health-systems', { token: t.token, body: { name: `Refused ${uniqueSuffix()}` } }), t, 'createHealthSystem', [healthSystems]);
    }
  });
});

describe('issuers', () => {
  it('add runs discovery and answers 201 with endpoints (each with its source), capabilities and warnings', async () => {
    const hs = expectContract('createHealthSystem', await call('POST', '/health-systems', { token: ops.token, body: { name: `Issuer Hospital ${uniqueSuffix()}` } }), 201);
    const res = await call('POST', '/issuers', { token: ops.token, body: { healthSystemId: hs.id, url: sandbox.mercy.fhirBase, environment: 'sandbox' } });
    const issuer = expectContract('addIssuer', res, 201);
    expect(res.headers.get('location')).toBe(`/api/v1/issuers/${issuer.id}`);
    expect(issuer.issuer).toBe(sandbox.mercy.issuer);
    const endpoints = issuer.endpoints as Record<string, { url: string; source: string }>;
    expect(endpoints.token!.url).toBe(`${sandbox.mercy.origin}/token`);
    expect(endpoints.registration!.source).toMatch(/smart-configuration|openid-configuration/);
    expect(issuer.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'client-confidential-asymmetric']));
    expect(issuer.tokenEndpointAuthMethodsSupported).toEqual(expect.arrayContaining(['private_key_jwt']));
    expect(Array.isArray(issuer.warnings)).toBe(true);

    const one = expectContract('getIssuer', await call('GET', `/issuers/${issuer.id}`, { token: support.token }), 200);
    expect(one).toMatchObject({ id: issuer.id, healthSystemId: hs.id, issuer: sandbox.mercy.issuer, environment: 'sandbox' });
    const list = expectContract('listIssuers', await call('GET', `/issuers?healthSystemId=${hs.id}`, { token: support.token }), 200);
    expect(list).toMatchObject({ total: 1, items: [{ id: issuer.id, canRegister: true, healthSystemName: hs.name }] });
    const refreshed = expectContract('refreshIssuer', await call('POST', `/issuers/${issuer.id}/refresh`, { token: ops.token }), 200);
    expect(refreshed).toMatchObject({ issuerId: issuer.id, outcome: 'ok', error: null });
  });

  it('a failed discovery is 422 with its code and the attempts, and adds nothing', async () => {
    const hs = expectContract('createHealthSystem', await call('POST', '/health-systems', { token: ops.token, body: { name: `No Discovery ${uniqueSuffix()}` } }), 201);
    const before = await countOf(issuers);
    const res = await call('POST', '/issuers', { token: ops.token, body: { healthSystemId: hs.id, url: `${sandbox.general.origin}/nothing-here`, environment: 'sandbox' } });
    const problem = expectProblem(res, 422, 'DISCOVERY_FAILED');
    expect((problem.attempts as unknown[]).length).toBeGreaterThan(0);
    expect(problem.field).toBe('url');
    expect(await countOf(issuers)).toBe(before);
  });

  it('a refused address is 422 BLOCKED_ADDRESS', async () => {
    const hs = expectContract('createHealthSystem', await call('POST', '/health-systems', { token: ops.token, body: { name: `Blocked ${uniqueSuffix()}` } }), 201);
    const res = await call('POST', '/issuers', { token: ops.token, body: { healthSystemId: hs.id, url: 'https://10.255.255.1/fhir', environment: 'sandbox' } });
    expect(res.status).toBe(422);
    expect((res.body as { code: string }).code).toMatch(/BLOCKED_ADDRESS|DISCOVERY_FAILED/);
  });

  it('an unknown health system is 404; support is refused adding and refreshing', async () => {
    expectProblem(await call('POST', '/issuers', { token: ops.token, body: { healthSystemId: randomUUID(), url: sandbox.general.fhirBase, environment: 'sandbox' } }), 404, 'NOT_FOUND');
    const { issuer } = await onboard();
    await expectRefused(call('POST', '/issuers', { token: support.token, body: { healthSystemId: randomUUID(), url: sandbox.general.fhirBase, environment: 'x' } }), support, 'addIssuer', [issuers]);
    await expectRefused(call('POST', `/issuers/${issuer.id}/refresh`, { token: support.token }), support, 'refreshIssuer');
  });
});

describe('apps', () => {
  it('create, list, read, and update with expectedVersion (a stale version is 409)', async () => {
    const suffix = uniqueSuffix();
    const created = expectContract('createApp', await call('POST', '/apps', { token: ops.token, body: profile(suffix) }), 201);
    expect(created.version).toBe(1);
    const one = expectContract('getApp', await call('GET', `/apps/${created.id}`, { token: support.token }), 200);
    expect(one).toMatchObject({ currentVersion: 1, profile: { softwareId: `com.example.api.${suffix}`, environments: { production: { keyAlgorithm: 'ES384' } } } });
    const list = expectContract('listApps', await call('GET', '/apps?pageSize=100', { token: support.token }), 200);
    expect((list.items as Array<{ id: string }>).some((a) => a.id === created.id)).toBe(true);

    const next = { ...profile(suffix, ['https://app.example.com/callback2']) };
    const updated = expectContract('updateApp', await call('PUT', `/apps/${created.id}`, { token: ops.token, body: { expectedVersion: 1, profile: next } }), 200);
    expect(updated).toEqual({ id: created.id, version: 2 });
    expectProblem(await call('PUT', `/apps/${created.id}`, { token: ops.token, body: { expectedVersion: 1, profile: next } }), 409, 'CONFLICT');
    expectProblem(await call('PUT', `/apps/${created.id}`, { token: ops.token, body: { profile: next } }), 400, 'INVALID');
    await expectRefused(call('PUT', `/apps/${created.id}`, { token: support.token, body: { expectedVersion: 2, profile: next } }), support, 'updateApp', [apps]);
    const [row] = await getDb().select({ v: apps.currentVersion }).from(apps).where(eq(apps.id, String(created.id)));
    expect(row!.v).toBe(2);
  });

  it('an invalid profile is 400 with the nested path', async () => {
    const res = await call('POST', '/apps', { token: ops.token, body: { ...profile(uniqueSuffix()), environments: { production: { tokenEndpointAuthMethod: 'magic' } } } });
    const problem = expectProblem(res, 400, 'INVALID');
    expect((problem.errors as Array<{ path: string }>).map((e) => e.path)).toContain('environments.production.tokenEndpointAuthMethod');
  });
});

describe('registrations', () => {
  it('registers at General Hospital: 201 with metadata, scope diff, findings and expiry, and never a secret', async () => {
    const { issuer, app } = await onboard();
    const res = await register(issuer.id, app.id);
    const reg = expectContract('registerApp', res, 201);
    expect(res.headers.get('location')).toBe(`/api/v1/registrations/${reg.id}`);
    expect(reg).toMatchObject({ status: 'active', authMethod: 'client_secret_basic', managed: true, expiryState: 'ok', environment: 'production', issuerId: issuer.id, appId: app.id });
    expect(typeof reg.clientId).toBe('string');
    expect(new Date(String(reg.secretExpiresAt)).getTime()).toBeGreaterThan(Date.now() + 89 * 86_400_000);
    expect((reg.metadata as { requested: { redirect_uris: string[] } }).requested.redirect_uris).toEqual(['https://app.example.com/callback']);
    expect(reg.scopeDiff).toMatchObject({ equivalent: true, lost: [] });
    const secret = await readCurrentCredential(getDb(), 'registration', String(reg.id), 'client_secret');
    expect(secret?.plaintext).toBeTruthy();
    expect(res.text).not.toContain(secret!.plaintext);
    expect(res.text).not.toMatch(/client_secret"|registration_access_token/);

    const one = expectContract('getRegistration', await call('GET', `/registrations/${reg.id}`, { token: support.token }), 200);
    expect(one).toEqual(reg);
  });

  it('requires an Idempotency-Key: missing or too short is 400 and nothing is sent', async () => {
    const { issuer, app } = await onboard();
    const before = await countOf(registrationOperations);
    const missing = await call('POST', '/registrations', { token: ops.token, body: { issuerId: issuer.id, appId: app.id, environment: 'production' } });
    expect((expectProblem(missing, 400, 'INVALID').errors as Array<{ path: string }>)[0]!.path).toBe('header.Idempotency-Key');
    expectProblem(await register(issuer.id, app.id, 'short'), 400, 'INVALID');
    expect(await countOf(registrationOperations)).toBe(before);
  });

  it('a replay with the same key returns the first registration (200, Idempotent-Replayed) without registering twice; another body is 409', async () => {
    const { issuer, app } = await onboard();
    const k = key();
    const first = expectContract('registerApp', await register(issuer.id, app.id, k), 201);
    const before = await countOf(registrations);
    const replay = await register(issuer.id, app.id, k);
    const again = expectContract('registerApp', replay, 200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(again.id).toBe(first.id);
    expect(again.clientId).toBe(first.clientId);
    expect(await countOf(registrations)).toBe(before);
    const conflict = await register(issuer.id, app.id, k, { overrides: { clientName: 'Something else' } });
    expectProblem(conflict, 409, 'CONFLICT');
    expect(await countOf(registrations)).toBe(before);
  });

  it('concurrent identical requests register once', async () => {
    const { issuer, app } = await onboard();
    const k = key();
    const results = await Promise.all([register(issuer.id, app.id, k), register(issuer.id, app.id, k), register(issuer.id, app.id, k)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(results.map((r) => (r.body as { id: string }).id)).size).toBe(1);
  });

  it('a domain refusal is 422 (an environment the app lacks), an unknown issuer 404', async () => {
    const { issuer, app } = await onboard();
    const res = await call('POST', '/registrations', { token: ops.token, body: { issuerId: issuer.id, appId: app.id, environment: 'staging' }, headers: { 'Idempotency-Key': key() } });
    expect((expectProblem(res, 422, 'INVALID').field as string)).toBe('environment');
    expectProblem(await register(randomUUID(), app.id), 404, 'NOT_FOUND');
  });

  it('support, manager and a read-only token are refused registering, with no operation and no upstream client', async () => {
    const { issuer, app } = await onboard();
    for (const t of [support, manager, opsReadOnly]) {
      await expectRefused(
        call('POST', '/registrations', { token: t.token, body: { issuerId: issuer.id, appId: app.id, environment: 'production' }, headers: { 'Idempotency-Key': key() } }),
        t,
        'registerApp',
        [registrations, registrationOperations],
      );
    }
  });

  it('lists with the table’s filters, sorting and paging', async () => {
    const { issuer, app } = await onboard();
    const reg = expectContract('registerApp', await register(issuer.id, app.id), 201);
    const list = expectContract('listRegistrations', await call('GET', `/registrations?issuerId=${issuer.id}&appId=${app.id}&pageSize=10`, { token: support.token }), 200);
    expect(list).toMatchObject({ total: 1, page: 1, pageSize: 10, items: [{ id: reg.id, clientId: reg.clientId, expiryState: 'ok' }] });
    const byApp = expectContract('listRegistrations', await call('GET', `/registrations?appId=${app.id}&status=active&hasFindings=false&sort=clientId&dir=asc`, { token: support.token }), 200);
    expect(byApp.total).toBe(1);
    const none = expectContract('listRegistrations', await call('GET', `/registrations?appId=${app.id}&status=deleted`, { token: support.token }), 200);
    expect(none).toMatchObject({ total: 0, items: [] });
    const expiring = expectContract('listRegistrations', await call('GET', `/registrations?appId=${app.id}&expiringWithinDays=1`, { token: support.token }), 200);
    expect(expiring.total).toBe(0);
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const inWindow = expectContract('listRegistrations', await call('GET', `/registrations?appId=${app.id}&expiresFrom=${day(80)}&expiresTo=${day(100)}`, { token: support.token }), 200);
    expect(inWindow.total).toBe(1);
    expectProblem(await call('GET', '/registrations?expiresFrom=soon', { token: support.token }), 400, 'INVALID');
  });

  it('expiry filters list only secrets in use: a deleted registration or one replaced by a rotation is left out', async () => {
    const { issuer, app } = await onboard();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(String(expectContract('registerApp', await register(issuer.id, app.id), 201).id));
    const [inUse, deleted, replaced] = ids as [string, string, string];
    const tomorrow = new Date(Date.now() + 86_400_000);
    await getDb().update(registrations).set({ secretExpiresAt: tomorrow }).where(sql`${registrations.id} in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`);
    await getDb().update(registrations).set({ status: 'deleted' }).where(eq(registrations.id, deleted));
    await getDb().update(registrations).set({ replacedByRegistrationId: inUse }).where(eq(registrations.id, replaced));
    const within = expectContract('listRegistrations', await call('GET', `/registrations?appId=${app.id}&expiringWithinDays=2`, { token: support.token }), 200);
    expect((within.items as Array<{ id: string }>).map((r) => r.id)).toEqual([inUse]);
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const inWindow = expectContract('listRegistrations', await call('GET', `/registrations?appId=${app.id}&expiresFrom=${day(0)}&expiresTo=${day(3)}`, { token: support.token }), 200);
    expect((inWindow.items as Array<{ id: string }>).map((r) => r.id)).toEqual([inUse]);
    // Without an expiry filter the table still lists all three.
    expect(expectContract('listRegistrations', await call('GET', `/registrations?appId=${app.id}`, { token: support.token }), 200).total).toBe(3);
  });

  it('refresh reads the hospital’s record; PATCH changes it (RFC 7592 update); DELETE deletes it', async () => {
    const { issuer, app } = await onboard();
    const reg = expectContract('registerApp', await register(issuer.id, app.id), 201);
    const refreshed = expectContract('refreshRegistration', await call('POST', `/registrations/${reg.id}/refresh`, { token: ops.token }), 200);
    expect(refreshed).toMatchObject({ registrationId: reg.id, hasDrift: false });

    const patched = expectContract('updateRegistration', await call('PATCH', `/registrations/${reg.id}`, { token: ops.token, body: { redirect_uris: ['https://app.example.com/cb-new'] } }), 200);
    expect(patched).toMatchObject({ update: { changedFields: ['redirect_uris'] }, registration: { metadata: { registered: { redirect_uris: ['https://app.example.com/cb-new'] } } } });
    expectProblem(await call('PATCH', `/registrations/${reg.id}`, { token: ops.token, body: { client_secret: 'mine' } }), 400, 'INVALID');
    expectProblem(await call('PATCH', `/registrations/${reg.id}`, { token: ops.token, body: { redirect_uris: ['https://app.example.com/cb#frag'] } }), 422, 'INVALID');
    const [row] = await getDb().select({ m: registrations.registeredMetadata }).from(registrations).where(eq(registrations.id, String(reg.id)));
    expect(row!.m.redirect_uris).toEqual(['https://app.example.com/cb-new']);

    await expectRefused(call('DELETE', `/registrations/${reg.id}`, { token: support.token }), support, 'deleteRegistration');
    await expectRefused(call('PATCH', `/registrations/${reg.id}`, { token: opsReadOnly.token, body: { client_name: 'x' } }), opsReadOnly, 'updateRegistration');
    await expectRefused(call('POST', `/registrations/${reg.id}/refresh`, { token: manager.token }), manager, 'refreshRegistration');
    const [still] = await getDb().select({ status: registrations.status, m: registrations.registeredMetadata }).from(registrations).where(eq(registrations.id, String(reg.id)));
    expect(still).toMatchObject({ status: 'active', m: { redirect_uris: ['https://app.example.com/cb-new'] } });

    const deleted = expectContract('deleteRegistration', await call('DELETE', `/registrations/${reg.id}`, { token: ops.token }), 200);
    expect(deleted.registrationId).toBe(reg.id);
    expect(expectContract('getRegistration', await call('GET', `/registrations/${reg.id}`, { token: ops.token }), 200).status).toBe('deleted');
    expectProblem(await call('DELETE', `/registrations/${reg.id}`, { token: ops.token }), 409, 'CONFLICT');
  });

  it('sync compares with the app profile and, confirmed, updates the hospital to match', async () => {
    const { issuer, app, suffix } = await onboard();
    const reg = expectContract('registerApp', await register(issuer.id, app.id), 201);
    // No body: a preview (confirm defaults to false).
    const same = expectContract('syncRegistration', await call('POST', `/registrations/${reg.id}/sync`, { token: ops.token }), 200);
    expect(same).toMatchObject({ changedFields: [], applied: false });
    expectContract('updateApp', await call('PUT', `/apps/${app.id}`, { token: ops.token, body: { expectedVersion: 1, profile: profile(suffix, ['https://app.example.com/cb-v2']) } }), 200);
    const preview = expectContract('syncRegistration', await call('POST', `/registrations/${reg.id}/sync`, { token: ops.token, body: { confirm: false } }), 200);
    expect(preview).toMatchObject({ changedFields: ['redirect_uris'], applied: false, appVersion: 2 });
    expectProblem(await call('POST', `/registrations/${reg.id}/sync`, { token: ops.token, body: { confirm: true, appVersion: 1 } }), 409, 'CONFLICT');
    const applied = expectContract('syncRegistration', await call('POST', `/registrations/${reg.id}/sync`, { token: ops.token, body: { confirm: true, appVersion: 2 } }), 200);
    expect(applied).toMatchObject({ applied: true, changedFields: ['redirect_uris'] });
    const after = expectContract('getRegistration', await call('GET', `/registrations/${reg.id}`, { token: ops.token }), 200);
    expect(after).toMatchObject({ appVersion: 2, metadata: { registered: { redirect_uris: ['https://app.example.com/cb-v2'] } } });
  });
});

describe('rotation', () => {
  it('rotates with the planned strategy (re-registration at General, verified by a token request): 201 with the rotation; a refused or impossible rotation starts nothing', async () => {
    const { issuer, suffix } = await onboard();
    const body = { ...profile(`rot-${suffix}`), environments: { production: { redirectUris: ['https://app.example.com/callback'], grantTypes: ['authorization_code', 'client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', scope: 'system/*.read' } } };
    const app = expectContract('createApp', await call('POST', '/apps', { token: ops.token, body }), 201);
    const reg = expectContract('registerApp', await register(issuer.id, String(app.id)), 201);

    await expectRefused(call('POST', `/registrations/${reg.id}/rotate`, { token: support.token }), support, 'rotateRegistration', [rotations]);
    await expectRefused(call('POST', `/registrations/${reg.id}/rotate`, { token: opsReadOnly.token, body: {} }), opsReadOnly, 'rotateRegistration', [rotations]);
    expectProblem(await call('POST', `/registrations/${randomUUID()}/rotate`, { token: ops.token }), 404, 'NOT_FOUND');
    expectProblem(await call('POST', `/registrations/${reg.id}/rotate`, { token: ops.token, body: { initialAccessToken: 42 } }), 400, 'INVALID');

    const res = await call('POST', `/registrations/${reg.id}/rotate`, { token: ops.token });
    const rotation = expectContract('rotateRegistration', res, 201);
    expect(rotation).toMatchObject({ registrationId: reg.id, strategy: 're_registration', state: 'current', joined: false, trigger: 'manual', error: null });
    expect(rotation.newClientId).not.toBe(reg.clientId);
    expect(res.text).not.toMatch(/client_secret"|clientSecret/);
    const [audit] = await getDb().select().from(auditLog).where(and(eq(auditLog.actorId, ops.id), eq(auditLog.action, 'rotation.start'), eq(auditLog.targetId, String(reg.id))));
    expect(audit).toMatchObject({ actorType: 'api_token', outcome: 'success' });
    // The replacement holds the current secret; the credentials endpoint reads it.
    const creds = expectContract('getRegistrationCredentials', await call('GET', `/registrations/${rotation.newRegistrationId}/credentials`, { token: credsOnly.token }), 200);
    expect(creds.clientId).toBe(rotation.newClientId);
  });
});

describe('bulk rotation', () => {
  it('ops start one for several registrations (202 with the bulk id) and follow it to the end; support cannot start one; unknown ids are refused, not fatal', async () => {
    const { issuer, suffix } = await onboard();
    const body = { ...profile(`bulk-${suffix}`), environments: { production: { redirectUris: ['https://app.example.com/callback'], grantTypes: ['authorization_code', 'client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', scope: 'system/*.read' } } };
    const app = expectContract('createApp', await call('POST', '/apps', { token: ops.token, body }), 201);
    const regs = [];
    for (let i = 0; i < 2; i++) regs.push(expectContract('registerApp', await register(issuer.id, String(app.id)), 201));
    const ids = regs.map((r) => String(r.id));

    await expectRefused(call('POST', '/rotations/bulk', { token: support.token, body: { registrationIds: ids } }), support, 'startBulkRotation', [rotations]);
    expectProblem(await call('POST', '/rotations/bulk', { token: ops.token, body: { registrationIds: [] } }), 400, 'INVALID');
    const unknown = randomUUID();
    const started = expectContract('startBulkRotation', await call('POST', '/rotations/bulk', { token: ops.token, body: { registrationIds: [...ids, unknown] } }), 202);
    expect(started).toMatchObject({ started: 2, joined: 0, refused: [{ registrationId: unknown, reason: 'That registration does not exist.' }] });

    const deadline = Date.now() + 30_000;
    let progress = expectContract('getBulkRotation', await call('GET', `/rotations/bulk/${started.bulkId}`, { token: support.token }), 200);
    while (!progress.done && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      progress = expectContract('getBulkRotation', await call('GET', `/rotations/bulk/${started.bulkId}`, { token: support.token }), 200);
    }
    expect(progress.counts).toEqual({ total: 2, current: 2, failed: 0, waiting: 0, retrying: 0, running: 0 });
    expect((progress.rows as Array<{ registrationId: string }>).map((r) => r.registrationId).sort()).toEqual([...ids].sort());
    // What was not started stays listed with its reason on the progress.
    expect(progress).toMatchObject({ notStarted: [{ registrationId: unknown, clientId: null, reason: 'That registration does not exist.' }], joined: 0 });
    // A bulk rotation that started nothing still has a progress page saying why.
    const none = expectContract('startBulkRotation', await call('POST', '/rotations/bulk', { token: ops.token, body: { registrationIds: [randomUUID()] } }), 202);
    expect(expectContract('getBulkRotation', await call('GET', `/rotations/bulk/${none.bulkId}`, { token: support.token }), 200)).toMatchObject({
      counts: { total: 0 },
      done: true,
      notStarted: [{ reason: 'That registration does not exist.' }],
    });
    expectProblem(await call('GET', `/rotations/bulk/${randomUUID()}`, { token: ops.token }), 404, 'NOT_FOUND');
  });
});

describe('credentials', () => {
  it('ops and a credentials:read-only token read the current secret; each read is audited with the token as actor', async () => {
    const { issuer, app } = await onboard();
    const reg = expectContract('registerApp', await register(issuer.id, app.id), 201);
    const secret = (await readCurrentCredential(getDb(), 'registration', String(reg.id), 'client_secret'))!;
    for (const t of [ops, credsOnly, admin]) {
      const creds = expectContract('getRegistrationCredentials', await call('GET', `/registrations/${reg.id}/credentials`, { token: t.token }), 200);
      expect(creds).toMatchObject({ registrationId: reg.id, clientId: reg.clientId, clientSecret: secret.plaintext, authMethod: 'client_secret_basic', expiryState: 'ok', key: null });
      const [audit] = await getDb().select().from(auditLog).where(and(eq(auditLog.actorId, t.id), eq(auditLog.action, 'credential.read'), eq(auditLog.targetId, String(reg.id))));
      expect(audit).toMatchObject({ actorType: 'api_token', outcome: 'success', details: { version: secret.version, fingerprint: secret.fingerprint } });
      expect(JSON.stringify(audit!.details)).not.toContain(secret.plaintext);
    }
  });

  it('support, manager and a read-only ops token are refused (audited); the credentials-only token is refused everything else', async () => {
    const { issuer, app } = await onboard();
    const reg = expectContract('registerApp', await register(issuer.id, app.id), 201);
    for (const t of [support, manager, opsReadOnly]) {
      const res = await expectRefused(call('GET', `/registrations/${reg.id}/credentials`, { token: t.token }), t, 'getRegistrationCredentials');
      expect(res.text).not.toMatch(/clientSecret/);
    }
    expect((await getDb().select().from(auditLog).where(and(eq(auditLog.actorId, support.id), eq(auditLog.action, 'credential.read')))).length).toBe(0);
    await expectRefused(call('GET', '/registrations', { token: credsOnly.token }), credsOnly, 'listRegistrations');
    await expectRefused(call('GET', `/registrations/${reg.id}`, { token: credsOnly.token }), credsOnly, 'getRegistration');
    await expectRefused(call('POST', '/health-systems', { token: credsOnly.token, body: { name: `X ${uniqueSuffix()}` } }), credsOnly, 'createHealthSystem', [healthSystems]);
    await expectRefused(call('POST', `/registrations/${reg.id}/refresh`, { token: credsOnly.token }), credsOnly, 'refreshRegistration');
    await expectRefused(call('POST', '/diagnostics/scopes', { token: credsOnly.token, body: { requested: 'a', granted: 'a' } }), credsOnly, 'diagnoseScopes');
    await expectRefused(call('GET', '/audit', { token: credsOnly.token }), credsOnly, 'listAudit');
    expectProblem(await call('GET', `/registrations/${randomUUID()}/credentials`, { token: credsOnly.token }), 404, 'NOT_FOUND');
  });
});

describe('diagnostics', () => {
  it('redirect-uri: exact match, loopback port exception, and each difference explained', async () => {
    const diagnose = (body: unknown) => call('POST', '/diagnostics/redirect-uri', { token: support.token, body });
    const exact = expectContract('diagnoseRedirectUri', await diagnose({ presented: 'https://app.example.com/cb', registered: ['https://app.example.com/cb'] }), 200);
    expect(exact).toMatchObject({ match: true, verdict: 'exact-match', candidate: 'https://app.example.com/cb', findings: [] });
    const loopback = expectContract('diagnoseRedirectUri', await diagnose({ presented: 'http://127.0.0.1:51234/cb', registered: ['http://127.0.0.1:8080/cb'] }), 200);
    expect(loopback).toMatchObject({ match: true, verdict: 'loopback-port-match', findings: [{ code: 'LOOPBACK_PORT_ALLOWED' }] });
    const slash = expectContract('diagnoseRedirectUri', await diagnose({ presented: 'https://app.example.com/cb/', registered: ['https://other.example.com/x', 'https://app.example.com/cb'] }), 200);
    expect(slash).toMatchObject({ match: false, candidate: 'https://app.example.com/cb', findings: [{ code: 'TRAILING_SLASH' }] });
    // With the same fix the page gives.
    expect((slash.findings as Array<{ fix?: string }>)[0]?.fix).toMatch(/final slash.*Either change the app to send exactly/);
    const host = expectContract('diagnoseRedirectUri', await diagnose({ presented: 'https://App.example.com/cb', registered: ['https://app.example.com/cb'] }), 200);
    expect((host.findings as Array<{ code: string }>).map((f) => f.code)).toContain('HOST_CASE');
    const localhost = expectContract('diagnoseRedirectUri', await diagnose({ presented: 'http://localhost:1234/cb', registered: ['http://localhost:8080/cb'] }), 200);
    expect(localhost).toMatchObject({ match: false, findings: [{ code: 'PORT' }] });
    const space = expectContract('diagnoseRedirectUri', await diagnose({ presented: 'https://app.example.com/cb', registered: [' https://app.example.com/cb'] }), 200);
    expect(space).toMatchObject({ match: false, findings: [{ code: 'WHITESPACE' }] });
    // Nothing to compare with: not a "no match" but a request that says what to give.
    const nothing = expectProblem(await diagnose({ presented: 'https://app.example.com/cb', registered: [] }), 422, 'INVALID');
    expect(nothing.detail).toMatch(/nothing to compare the redirect URI with: give the registered redirect URIs/);
  });

  it('redirect-uri by client id uses the registration’s redirect URIs', async () => {
    const { issuer, app } = await onboard();
    const reg = expectContract('registerApp', await register(issuer.id, app.id), 201);
    const res = expectContract('diagnoseRedirectUri', await call('POST', '/diagnostics/redirect-uri', { token: support.token, body: { clientId: reg.clientId, presented: 'https://app.example.com/Callback' } }), 200);
    expect(res).toMatchObject({ match: false, verdict: 'no-match', candidate: 'https://app.example.com/callback', registration: { id: reg.id } });
    expect((res.findings as Array<{ code: string }>).map((f) => f.code)).toContain('PATH_CASE');
    const url = `${sandbox.general.origin}/auth?response_type=code&client_id=${encodeURIComponent(String(reg.clientId))}&redirect_uri=${encodeURIComponent('https://app.example.com/callback')}&scope=openid&state=s&code_challenge=x&code_challenge_method=S256&aud=${encodeURIComponent(sandbox.general.fhirBase)}`;
    const byUrl = expectContract('diagnoseRedirectUri', await call('POST', '/diagnostics/redirect-uri', { token: support.token, body: { authorizationUrl: url } }), 200);
    expect(byUrl).toMatchObject({ match: true, verdict: 'exact-match' });
  });

  it('redirect-uri: a body with neither mode is 400; manager is refused', async () => {
    expectProblem(await call('POST', '/diagnostics/redirect-uri', { token: support.token, body: { presented: 'https://a/cb' } }), 400, 'INVALID');
    expectProblem(await call('POST', '/diagnostics/redirect-uri', { token: support.token, body: { registered: ['https://a/cb'] } }), 400, 'INVALID');
    await expectRefused(call('POST', '/diagnostics/redirect-uri', { token: manager.token, body: { presented: 'https://a/cb', registered: [] } }), manager, 'diagnoseRedirectUri');
  });

  it('redirect-uri: more than 50 registered URIs, or one over 2,048 characters, is 400 naming the limit; the largest request allowed is answered, labelled when partial', async () => {
    const diagnose = (body: unknown) => call('POST', '/diagnostics/redirect-uri', { token: support.token, body });
    const uri = (i: number, length = 2048) => `https://app.example.com/${String(i).padStart(4, '0')}/${'x'.repeat(length - 'https://app.example.com/0000/'.length)}`;
    const many = expectProblem(await diagnose({ presented: uri(0), registered: Array.from({ length: 51 }, (_, i) => uri(i)) }), 400, 'INVALID');
    expect(many.detail).toMatch(/registered: Give at most 50 registered redirect URIs\./);
    const long = expectProblem(await diagnose({ presented: uri(0), registered: [uri(1), uri(2, 2049)] }), 400, 'INVALID');
    expect(long.detail).toMatch(/registered\.1: A registered redirect URI is too long \(2,048 characters at most\)\./);
    const presented = expectProblem(await diagnose({ presented: uri(0, 2049), registered: [uri(1)] }), 400, 'INVALID');
    expect(presented.detail).toMatch(/presented: The presented redirect URI is too long \(2,048 characters at most\)\./);

    // At the limits, with the two sides differing at both ends: answered, partial and saying so.
    const reversed = (s: string) => [...s].reverse().join('');
    const largest = expectContract('diagnoseRedirectUri', await diagnose({ presented: `https://a.example/${'ab%2f'.repeat(406)}`, registered: Array.from({ length: 50 }, (_, i) => `https://a.example/${reversed(`${i}${'AB%2F'.repeat(406)}`).slice(0, 2030)}`) }), 200);
    expect(largest).toMatchObject({ match: false, verdict: 'no-match' });
    expect((largest.findings as Array<{ code: string; message: string }>).at(-1)?.message).toMatch(/^The URIs differ from character 19 on; they are too long to explain character by character/);
  });

  it('scopes: compared on expanded SMART atoms', async () => {
    const same = expectContract('diagnoseScopes', await call('POST', '/diagnostics/scopes', { token: support.token, body: { requested: 'patient/Observation.read', granted: 'patient/Observation.rs' } }), 200);
    expect(same).toMatchObject({ equivalent: true, lost: [], gained: [] });
    const diff = expectContract(
      'diagnoseScopes',
      await call('POST', '/diagnostics/scopes', { token: support.token, body: { requested: 'patient/Observation.rs launch Patient.read', granted: 'patient/Observation.r', supported: ['patient/Observation.r'] } }),
      200,
    );
    expect(diff).toMatchObject({ equivalent: false, lost: expect.arrayContaining(['patient/Observation.s']), unrecognized: ['Patient.read'] });
    expect(diff.unsupported).toEqual(expect.arrayContaining(['patient/Observation.rs', 'launch']));
    expectProblem(await call('POST', '/diagnostics/scopes', { token: support.token, body: { requested: 1 } }), 400, 'INVALID');
  });
});

describe('audit', () => {
  it('managers and admins read it filtered and paginated; every API change is audited with the token as actor', async () => {
    const name = `Audited ${uniqueSuffix()}`;
    const created = expectContract('createHealthSystem', await call('POST', '/health-systems', { token: ops.token, body: { name } }), 201);
    const res = expectContract('listAudit', await call('GET', `/audit?action=health_system.create&target=${created.id}`, { token: manager.token }), 200);
    expect(res).toMatchObject({ total: 1, page: 1, pageSize: 50 });
    const [entry] = res.items as Array<Record<string, unknown>>;
    expect(entry).toMatchObject({ actorType: 'api_token', outcome: 'success', role: 'ops', targetId: created.id });
    expect(String(entry!.actorLabel)).toContain('api-token:test-ops');
    expect(entry!.requestId).toBeTruthy();
    const paged = expectContract('listAudit', await call('GET', '/audit?pageSize=2&page=2&outcome=denied', { token: admin.token }), 200);
    expect((paged.items as unknown[]).length).toBeLessThanOrEqual(2);
    await expectRefused(call('GET', '/audit', { token: support.token }), support, 'listAudit');
    await expectRefused(call('GET', '/audit', { token: ops.token }), ops, 'listAudit');
  });

  it('the request id of an API call is on its audit row', async () => {
    const requestId = `req-${uniqueSuffix()}`;
    const res = await call('POST', '/health-systems', { token: ops.token, body: { name: `Req ${uniqueSuffix()}` }, headers: { 'x-request-id': requestId } });
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const rows = await getDb().select().from(auditLog).where(eq(auditLog.requestId, requestId));
    expect(rows.map((r) => r.action)).toEqual(['health_system.create']);
  });
});

describe('times', () => {
  it('are ISO 8601 UTC everywhere', async () => {
    const { issuer, app } = await onboard();
    const reg = await register(issuer.id, app.id);
    const stamps = reg.text.match(/"\d{4}-\d\d-\d\dT[^"]+"/g) ?? [];
    expect(stamps.length).toBeGreaterThan(0);
    for (const s of stamps) expect(s).toMatch(/Z"$/);
    const [{ now }] = (await getDb().execute<{ now: string }>(sql`select now()::text as now`)).rows as [{ now: string }];
    expect(now).toBeTruthy();
  });
});
