import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, credentials, registrationOperations, registrations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { fingerprintSecret } from '@/lib/credentials/vault';
import type { RegistrationResponse } from '@/lib/oauth/registration';
import { persistRegistration, type PersistInput } from './persist';

let ops: Awaited<ReturnType<typeof insertUser>>;
let issuerId: string;
let appId: string;

beforeAll(async () => {
  ops = await insertUser({ role: 'ops' });
  ({ issuerId } = await insertIssuer({ registrationEndpoint: `https://persist-${uniqueSuffix()}.example.test/register` }));
  ({ appId } = await insertApp({ environments: { production: {} } }));
});

afterAll(closeDb);

async function operation(): Promise<string> {
  const [row] = await getDb()
    .insert(registrationOperations)
    .values({ idempotencyKey: randomUUID() + randomUUID(), requestHash: 'h', issuerId, appId, environment: 'production', request: {}, status: 'in_flight' })
    .returning({ id: registrationOperations.id });
  return row!.id;
}

function answer(overrides: Partial<RegistrationResponse> = {}): RegistrationResponse {
  const clientId = `client-${uniqueSuffix()}`;
  return {
    httpStatus: 201,
    clientId,
    clientSecret: `secret-${uniqueSuffix()}`,
    registrationAccessToken: `rat-${uniqueSuffix()}`,
    registrationClientUri: `https://hospital.example.test/register/${clientId}`,
    clientIdIssuedAt: new Date('2026-01-02T03:04:05Z'),
    secretExpiry: { kind: 'at', at: new Date('2027-01-02T03:04:05Z') },
    metadata: { client_id: clientId, token_endpoint_auth_method: 'client_secret_basic', scope: 'openid' },
    rawBody: JSON.stringify({ client_id: clientId }),
    warnings: [],
    ...overrides,
  };
}

function input(operationId: string, response: RegistrationResponse): Omit<PersistInput, 'attempts'> {
  return {
    operationId,
    issuerId,
    appId,
    appVersion: 1,
    environment: 'production',
    authMethod: 'client_secret_basic',
    appKeyId: null,
    requested: { scope: 'openid' },
    adaptations: [],
    response,
    audit: { action: 'registration.create', targetType: 'issuer', targetId: issuerId, details: { appId, operationId, client_secret: 'must-be-redacted' } },
  };
}

describe('persisting a registration in one statement', () => {
  it('writes the registration, its encrypted credentials, the operation result and a redacted audit row', async () => {
    const operationId = await operation();
    const response = answer();
    const id = await persistRegistration(ops.actor, input(operationId, response));

    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, id));
    expect(reg).toMatchObject({ clientId: response.clientId, managed: true, secretExpiryKind: 'at', operationId, createdBy: expect.any(String) });
    expect(reg!.clientIdIssuedAt?.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(reg!.secretExpiresAt?.toISOString()).toBe('2027-01-02T03:04:05.000Z');

    const secret = await readCurrentCredential(getDb(), 'registration', id, 'client_secret');
    expect(secret).toMatchObject({ plaintext: response.clientSecret, version: 1 });
    expect(secret!.expiresAt?.toISOString()).toBe('2027-01-02T03:04:05.000Z');
    expect((await readCurrentCredential(getDb(), 'registration', id, 'registration_access_token'))?.plaintext).toBe(response.registrationAccessToken);
    expect((await readCurrentCredential(getDb(), 'registration', id, 'response_body'))?.plaintext).toBe(response.rawBody);

    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, operationId));
    expect(op).toMatchObject({ status: 'succeeded', registrationId: id, error: null });

    const audits = await getDb().select().from(auditLog).where(and(eq(auditLog.targetType, 'registration'), eq(auditLog.targetId, id)));
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorType: 'user', actorId: ops.id, role: 'ops', action: 'registration.create', outcome: 'success' });
    expect(audits[0]!.details).toMatchObject({ issuerId, clientId: response.clientId, client_secret: '[redacted]' });
  });

  it('stores an answer with no secret, no management and no dates as SQL nulls (a statement of another shape)', async () => {
    const operationId = await operation();
    const response = answer({ clientSecret: null, registrationAccessToken: null, registrationClientUri: null, clientIdIssuedAt: null, secretExpiry: { kind: 'none' } });
    const id = await persistRegistration(ops.actor, input(operationId, response));
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, id));
    expect(reg).toMatchObject({ managed: false, registrationClientUri: null, clientIdIssuedAt: null, secretExpiryKind: 'none', secretExpiresAt: null, appKeyId: null });
    const kinds = await getDb().select({ kind: credentials.kind, expiresAt: credentials.expiresAt }).from(credentials).where(eq(credentials.ownerId, id));
    expect(kinds).toEqual([{ kind: 'response_body', expiresAt: null }]);
    const [nulls] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from registrations where id = ${id} and client_id_issued_at is null and registration_client_uri is null`).then((r) => r.rows);
    expect(nulls?.n).toBe(1);
  });

  it('a second persist of the same answer (a recovery import after a partial success) returns the stored registration and writes nothing', async () => {
    const operationId = await operation();
    const response = answer();
    const first = await persistRegistration(ops.actor, input(operationId, response));
    const second = await persistRegistration(ops.actor, input(operationId, response));
    expect(second).toBe(first);
    expect(await getDb().select({ id: registrations.id }).from(registrations).where(and(eq(registrations.issuerId, issuerId), eq(registrations.clientId, response.clientId)))).toHaveLength(1);
    expect(await getDb().select({ id: credentials.id }).from(credentials).where(eq(credentials.ownerId, first))).toHaveLength(3);
    expect(await getDb().select({ id: auditLog.id }).from(auditLog).where(and(eq(auditLog.targetType, 'registration'), eq(auditLog.targetId, first)))).toHaveLength(1);
  });

  it('passes any other database error on, with nothing written', async () => {
    const response = answer();
    const operationId = await operation();
    const bad = { ...input(operationId, response), appId: randomUUID() }; // no such app: foreign key violation
    await expect(persistRegistration(ops.actor, bad)).rejects.toThrow();
    expect(await getDb().select({ id: credentials.id }).from(credentials).where(eq(credentials.fingerprint, fingerprintSecret(response.clientSecret!)))).toHaveLength(0);
    const [op] = await getDb().select({ status: registrationOperations.status }).from(registrationOperations).where(eq(registrationOperations.id, operationId));
    expect(op?.status).toBe('in_flight');
    expect(await getDb().select({ id: registrations.id }).from(registrations).where(eq(registrations.clientId, response.clientId))).toHaveLength(0);
    const [leftovers] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_log where details->>'clientId' = ${response.clientId}`).then((r) => r.rows);
    expect(leftovers?.n).toBe(0);
  });
});
