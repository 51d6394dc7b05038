import { randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import { auditLog, credentials, registrations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { AppError, isAppError } from '@/lib/errors';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { registerApp } from '@/lib/registrations/register';
import { startFakeRegistrationServer } from '@/test/support/fake-registration-server';
import { deleteRegistration, DELETE_NOT_ALLOWED_MESSAGE } from './delete';
import { refreshRegistrationFromServer } from './refresh';
import { syncRegistrationToProfile } from './sync';
import { updateRegistration } from './update';

/**
 * A stateful RFC 7592 server on loopback whose faults each test chooses: 405 on DELETE, 401 on
 * GET or PUT, a new client secret on read — answers the certified sandbox never gives.
 */
type FakeClient = {
  record: Record<string, unknown>;
  rat: string;
  secret: string;
  /** Every registration access token this client was ever given, in order. */
  rats: string[];
  faults: { get401?: boolean; put401?: boolean; deleteStatus?: 204 | 405; newSecretOnRead?: { secret: string; expiresAt: number } | null; withoutManagement?: boolean };
  putBodies: Array<Record<string, unknown>>;
};

const FORBIDDEN_IN_PUT = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at', 'client_secret'];

let fake: Awaited<ReturnType<typeof startFakeRegistrationServer>>;
const clients = new Map<string, FakeClient>();
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let support: Awaited<ReturnType<typeof insertUser>>;
let manager: Awaited<ReturnType<typeof insertUser>>;
let nextRegistrationFaults: FakeClient['faults'] = {};

const token = () => randomBytes(18).toString('base64url');

function send(res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

function unauthorized(res: http.ServerResponse) {
  send(res, 401, { error: 'invalid_token', error_description: 'the registration access token is not valid' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
}

function fakeManagement(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
  const url = req.url ?? '';
  if (req.method === 'POST' && url === '/register') {
    const clientId = `fake-${randomUUID()}`;
    const client: FakeClient = {
      record: {
        ...(JSON.parse(body) as Record<string, unknown>),
        client_id: clientId,
        client_id_issued_at: Math.floor(Date.now() / 1000),
        client_secret_expires_at: 0,
        // A vendor extension the server keeps: an update must send it back.
        x_vendor_tier: 'gold',
      },
      rat: token(),
      secret: `secret-${token()}`,
      rats: [],
      faults: nextRegistrationFaults,
      putBodies: [],
    };
    client.rats.push(client.rat);
    clients.set(clientId, client);
    const management = client.faults.withoutManagement ? {} : { registration_client_uri: `${fake.origin}/manage/${clientId}`, registration_access_token: client.rat };
    return send(res, 201, { ...client.record, client_secret: client.secret, ...management });
  }
  const match = /^\/manage\/([^/?]+)$/.exec(url);
  const client = match ? clients.get(decodeURIComponent(match[1]!)) : undefined;
  if (!client) return send(res, 404, { error: 'not_found' });
  if (req.headers.authorization !== `Bearer ${client.rat}`) return unauthorized(res);
  const uri = `${fake.origin}/manage/${client.record.client_id as string}`;
  if (req.method === 'GET') {
    if (client.faults.get401) return unauthorized(res);
    const rotation = client.faults.newSecretOnRead;
    if (rotation) {
      client.secret = rotation.secret;
      client.record.client_secret_expires_at = rotation.expiresAt;
      client.faults.newSecretOnRead = null;
    }
    return send(res, 200, { ...client.record, client_secret: client.secret, registration_client_uri: uri });
  }
  if (req.method === 'PUT') {
    if (client.faults.put401) return unauthorized(res);
    const sent = JSON.parse(body) as Record<string, unknown>;
    client.putBodies.push(sent);
    const hit = FORBIDDEN_IN_PUT.find((f) => f in sent);
    if (hit) return send(res, 400, { error: 'invalid_request', error_description: `request MUST NOT include the ${hit} field` });
    client.record = { ...sent, client_id_issued_at: client.record.client_id_issued_at, client_secret_expires_at: client.record.client_secret_expires_at };
    client.rat = token(); // rotated on every update, like Keycloak and node-oidc-provider
    client.rats.push(client.rat);
    return send(res, 200, { ...client.record, client_secret: client.secret, registration_access_token: client.rat, registration_client_uri: uri });
  }
  if (req.method === 'DELETE') {
    const status = client.faults.deleteStatus ?? 204;
    if (status === 405) return send(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, PUT' });
    clients.delete(client.record.client_id as string);
    return send(res, 204);
  }
  return send(res, 405);
}

beforeAll(async () => {
  fake = await startFakeRegistrationServer();
  fake.setBehaviour(fakeManagement);
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  support = await insertUser({ role: 'support' });
  manager = await insertUser({ role: 'manager' });
  await addAllowlistEntry(admin.actor, { entry: `http://${new URL(fake.origin).host}` }).catch(() => {});
});

afterAll(async () => {
  await fake.close();
  await closeDb();
});

beforeEach(() => {
  nextRegistrationFaults = {};
});

async function registerAtFake(faults: FakeClient['faults'] = {}) {
  nextRegistrationFaults = faults;
  const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
  const { appId, profile } = await insertApp({ environments: { production: {} } });
  const result = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
  const client = clients.get(result.clientId);
  if (!client) throw new Error('the fake did not keep the client');
  return { ...result, client, appId, profile };
}

async function registrationRow(id: string) {
  const [row] = await getDb().select().from(registrations).where(eq(registrations.id, id));
  return row!;
}

async function credentialRows(id: string) {
  return getDb()
    .select({ id: credentials.id, kind: credentials.kind, state: credentials.state, version: credentials.version })
    .from(credentials)
    .where(eq(credentials.ownerId, id))
    .orderBy(credentials.kind, credentials.version);
}

async function captureError(fn: () => Promise<unknown>): Promise<AppError> {
  try {
    await fn();
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

describe('deleting where the server does not allow it', () => {
  it('DELETE 405 keeps the registration active and says to revoke the client with the hospital', async () => {
    const reg = await registerAtFake({ deleteStatus: 405 });
    const error = await captureError(() => deleteRegistration(ops.actor, { registrationId: reg.registrationId }));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.message).toBe(DELETE_NOT_ALLOWED_MESSAGE);
    expect(error.message).toBe('This server does not allow deletion; revoke the client with the hospital.');
    const row = await registrationRow(reg.registrationId);
    expect(row).toMatchObject({ status: 'active', deletedAt: null });
    expect(clients.has(reg.clientId)).toBe(true);
    const audits = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'registration.delete'), eq(auditLog.targetId, reg.registrationId)));
    expect(audits.map((a) => a.outcome)).toEqual(['failure']);
  });
});

describe('management access lost (401)', () => {
  it('a 401 on GET marks the registration management_lost with a runbook and leaves the current secret untouched', async () => {
    const reg = await registerAtFake();
    const secretBefore = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret');
    const credentialsBefore = await credentialRows(reg.registrationId);
    reg.client.faults.get401 = true;

    const error = await captureError(() => refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId }));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.message).toMatch(/^Management access lost/);
    expect(error.message).not.toContain(reg.client.rat);
    expect(error.details?.managementLost).toBe(true);

    const row = await registrationRow(reg.registrationId);
    expect(row.status).toBe('management_lost');
    expect(row.attentionReason).toContain(`Confirm that client ${reg.clientId} still exists`);
    expect(row.attentionReason).toMatch(/issue a new registration access token/);
    expect(row.attentionReason).toMatch(/re-register/);
    expect(row.serverMetadata).toBeNull();
    const secretAfter = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret');
    expect(secretAfter).toEqual(secretBefore);
    expect(await credentialRows(reg.registrationId)).toEqual(credentialsBefore);
  });

  it('a 401 on PUT marks management_lost, keeps Registrar’s record and the current secret', async () => {
    const reg = await registerAtFake();
    await refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId }); // a fresh server record: the PUT comes next
    const before = await registrationRow(reg.registrationId);
    const secretBefore = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret');
    const credentialsBefore = await credentialRows(reg.registrationId);
    reg.client.faults.put401 = true;
    const requestsBefore = fake.requests.length;

    const error = await captureError(() => updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { client_name: 'Renamed' } }));
    expect(error.message).toMatch(/^Management access lost/);
    // No GET first: the stored record was fresh, so the PUT was the one refused.
    expect(fake.requests.slice(requestsBefore).map((r) => r.method)).toEqual(['PUT']);
    const after = await registrationRow(reg.registrationId);
    expect(after.status).toBe('management_lost');
    expect(after.attentionReason).toContain(reg.clientId);
    expect(after.registeredMetadata).toEqual(before.registeredMetadata);
    expect(await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret')).toEqual(secretBefore);
    expect(await credentialRows(reg.registrationId)).toEqual(credentialsBefore);
  });

  it('a later successful read makes a management_lost registration active again', async () => {
    const reg = await registerAtFake({ get401: true });
    await captureError(() => refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId }));
    expect((await registrationRow(reg.registrationId)).status).toBe('management_lost');
    reg.client.faults.get401 = false;
    const result = await refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId });
    expect(result.hasDrift).toBe(false);
    expect(await registrationRow(reg.registrationId)).toMatchObject({ status: 'active', attentionReason: null });
  });
});

describe('credentials that arrive with an answer', () => {
  it('a read answer carrying a new client_secret stores it as current (old → previous) and updates the expiry', async () => {
    const reg = await registerAtFake();
    const old = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret');
    const expiresAt = Math.floor(Date.now() / 1000) + 90 * 86_400;
    reg.client.faults.newSecretOnRead = { secret: `rotated-${token()}`, expiresAt };

    const result = await refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId });
    expect(result.rotated).toEqual(['client_secret']);
    const current = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret');
    expect(current?.plaintext).toBe(reg.client.secret);
    expect(current?.expiresAt?.getTime()).toBe(expiresAt * 1000);
    const secrets = (await credentialRows(reg.registrationId)).filter((c) => c.kind === 'client_secret');
    expect(secrets).toEqual([
      { id: old!.id, kind: 'client_secret', state: 'previous', version: 1 },
      { id: current!.id, kind: 'client_secret', state: 'current', version: 2 },
    ]);
    const row = await registrationRow(reg.registrationId);
    expect(row).toMatchObject({ secretExpiryKind: 'at' });
    expect(row.secretExpiresAt?.getTime()).toBe(expiresAt * 1000);
    expect(row.lastRotatedAt).not.toBeNull();
    // The server's record holds no secret; the drift shows the new expiry.
    expect(JSON.stringify(row.serverMetadata)).not.toContain(reg.client.secret);
    expect(result.drift.find((d) => d.field === 'client_secret_expires_at')).toMatchObject({ differs: true, server: String(expiresAt) });
    // The RAT did not change, so it was not stored again.
    expect((await credentialRows(reg.registrationId)).filter((c) => c.kind === 'registration_access_token')).toHaveLength(1);
  });

  it('every update PUTs the whole last server record without server-managed fields, and the rotated RAT is used next', async () => {
    const reg = await registerAtFake();
    await updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { redirect_uris: ['https://app.example.com/cb2'] } });
    await updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { scope: 'openid fhirUser' } });
    expect(reg.client.putBodies).toHaveLength(2);
    const [first, second] = reg.client.putBodies as [Record<string, unknown>, Record<string, unknown>];
    for (const body of [first, second]) {
      for (const field of FORBIDDEN_IN_PUT) expect(body).not.toHaveProperty(field);
      expect(body.client_id).toBe(reg.clientId);
      expect(body.x_vendor_tier).toBe('gold');
    }
    // The second PUT is the first one's answer with the second change: nothing dropped.
    const firstAnswer = (await getDb().select({ m: registrations.registeredMetadata }).from(registrations).where(eq(registrations.id, reg.registrationId)))[0]!.m;
    expect(firstAnswer.scope).toBe('openid fhirUser');
    for (const field of Object.keys(first)) expect(second, field).toHaveProperty(field);
    expect(second.redirect_uris).toEqual(['https://app.example.com/cb2']);
    // Three RATs issued (registration + two updates); the vault holds the last as current.
    expect(reg.client.rats).toHaveLength(3);
    const rat = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'registration_access_token');
    expect(rat?.plaintext).toBe(reg.client.rats[2]);
    const rats = (await credentialRows(reg.registrationId)).filter((c) => c.kind === 'registration_access_token');
    expect(rats.map((r) => [r.version, r.state])).toEqual([
      [1, 'previous'],
      [2, 'previous'],
      [3, 'current'],
    ]);
  });

  it('concurrent updates of one registration are serialised, so the rotated RAT never looks like lost management', async () => {
    const reg = await registerAtFake();
    const results = await Promise.allSettled([
      updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { client_name: 'One' } }),
      updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { scope: 'openid' } }),
      refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const row = await registrationRow(reg.registrationId);
    expect(row.status).toBe('active');
    expect(row.registeredMetadata).toMatchObject({ client_name: 'One', scope: 'openid' });
    expect(reg.client.record).toMatchObject({ client_name: 'One', scope: 'openid' });
  });
});

describe('refusals', () => {
  it('a registration without RFC 7592 management is refused as INVALID without calling the hospital', async () => {
    const reg = await registerAtFake({ withoutManagement: true });
    const before = fake.requests.length;
    for (const call of [
      () => refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId }),
      () => updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { client_name: 'x' } }),
      () => deleteRegistration(ops.actor, { registrationId: reg.registrationId }),
    ]) {
      const error = await captureError(call);
      expect(error.code).toBe('INVALID');
      expect(error.message).toMatch(/cannot be managed from Registrar.*registration_client_uri/);
    }
    expect(fake.requests.length).toBe(before);
  });

  it('an update that names a server-managed field, or an invalid redirect URI, is refused before any request', async () => {
    const reg = await registerAtFake();
    const before = fake.requests.length;
    await expect(updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { client_secret_expires_at: 0 } })).rejects.toThrow();
    await expect(updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { client_secret: 'mine' } })).rejects.toThrow();
    const bad = await captureError(() => updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { redirect_uris: ['https://app.example.com/cb#fragment'] } }));
    expect(bad).toMatchObject({ code: 'INVALID', details: { field: 'redirect_uris' } });
    expect(fake.requests.length).toBe(before);
  });

  it('support and manager are refused every management operation with no upstream request and no change', async () => {
    const reg = await registerAtFake();
    const before = await registrationRow(reg.registrationId);
    const credentialsBefore = await credentialRows(reg.registrationId);
    const requestsBefore = fake.requests.length;
    for (const who of [support, manager]) {
      for (const call of [
        () => refreshRegistrationFromServer(who.actor, { registrationId: reg.registrationId }),
        () => updateRegistration(who.actor, { registrationId: reg.registrationId, changes: { client_name: 'x' } }),
        () => syncRegistrationToProfile(who.actor, { registrationId: reg.registrationId }),
        () => syncRegistrationToProfile(who.actor, { registrationId: reg.registrationId, confirm: true }),
        () => deleteRegistration(who.actor, { registrationId: reg.registrationId }),
      ]) {
        const error = await captureError(call);
        expect(error.code).toBe('FORBIDDEN');
      }
    }
    expect(fake.requests.length).toBe(requestsBefore);
    expect(await registrationRow(reg.registrationId)).toEqual(before);
    expect(await credentialRows(reg.registrationId)).toEqual(credentialsBefore);
    expect(clients.has(reg.clientId)).toBe(true);
  });
});
