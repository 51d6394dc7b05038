import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { and, count, eq, sql } from 'drizzle-orm';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GET as getClientAuthKeys } from '@/app/api/jwks/[appId]/[environment]/route';
import { GET as getStatementKeys } from '@/app/api/jwks/[appId]/[environment]/software-statement/route';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser, uniqueSuffix } from '@/db/factories';
import { apps, appVersions, auditLog, credentials, issuers, registrationOperations, registrations } from '@/db/schema';
import { readAppPrivateKey } from '@/lib/apps/keys';
import { publishedJwks } from '@/lib/apps/queries';
import { readCurrentCredential } from '@/lib/credentials/store';
import { fingerprintSecret } from '@/lib/credentials/vault';
import { env, resetEnvCache } from '@/lib/env';
import { addSandboxIssuer } from '@/test/support/issuers';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { refreshIssuer } from '@/lib/issuers/refresh-issuer';
import { requestClientCredentialsToken } from '@/lib/oauth/registration';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { registrationAnswer, startFakeRegistrationServer } from '@/test/support/fake-registration-server';
import { claimOperation } from './claim';
import { registrationContext } from './context';
import { importRecoveryFiles, recoveryDir } from './recovery';
import { previewRegistration } from './preview';
import { registerApp } from './register';

let sandbox: Sandbox;
let fake: Awaited<ReturnType<typeof startFakeRegistrationServer>>;
let jwksServer: http.Server;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let support: Awaited<ReturnType<typeof insertUser>>;
const key = () => randomUUID() + randomUUID();

beforeAll(async () => {
  // Registrar's own JWKS endpoint, served from the same domain function as /api/jwks, so the
  // sandbox can fetch registered jwks_uri values.
  jwksServer = http.createServer(async (req, res) => {
    const match = /^\/api\/jwks\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
    const jwks = match ? await publishedJwks(match[1]!, decodeURIComponent(match[2]!)) : { keys: [] };
    res.statusCode = jwks.keys.length ? 200 : 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  process.env.REGISTRAR_PUBLIC_URL = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
  process.env.REGISTRAR_DATA_DIR = path.resolve('.data/test-recovery', uniqueSuffix());
  resetEnvCache();

  sandbox = await startSandbox({ log: () => {} });
  fake = await startFakeRegistrationServer();
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  support = await insertUser({ role: 'support' });
  for (const origin of [sandbox.general.origin, sandbox.mercy.origin, sandbox.epic.origin, fake.origin]) {
    await addAllowlistEntry(admin.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
  }
});

afterAll(async () => {
  await sandbox.stop();
  await fake.close();
  await new Promise((r) => jwksServer.close(r));
  await closeDb();
});

async function sandboxIssuer(url: string, epicClientId?: string) {
  const system = await createHealthSystem(ops.actor, { name: `Sandbox ${uniqueSuffix()}` });
  return addSandboxIssuer(ops.actor, { healthSystemId: system.id, url, environment: 'sandbox', epicClientId });
}

/** The fake hospital as an issuer, and an app with an environment of its own that the hospital registers with `secret`. */
async function faultyHospitalSetup(prefix: string, secret: string) {
  const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
  const environment = `${prefix}-${uniqueSuffix()}`;
  const { appId } = await insertApp({ environments: { [environment]: {} } });
  fake.setBehaviour(registrationAnswer(201, { client_secret: secret, client_secret_expires_at: 0 }));
  return { issuerId, appId, environment };
}

/**
 * Registers while the database refuses registrations of that environment (a fault no real peer
 * produces on demand: the hospital answers, the write fails); returns the error it ended with.
 */
async function registerWhileRegistrationsRefused(setup: Awaited<ReturnType<typeof faultyHospitalSetup>>, persistAttempts: number): Promise<unknown> {
  const constraint = `reg_fault_${uniqueSuffix()}`;
  await getDb().execute(sql.raw(`alter table registrations add constraint ${constraint} check (environment <> '${setup.environment}') not valid`));
  try {
    return await registerApp(ops.actor, { issuerId: setup.issuerId, appId: setup.appId, environment: setup.environment, idempotencyKey: key() }, { persistAttempts }).catch((e: unknown) => e);
  } finally {
    await getDb().execute(sql.raw(`alter table registrations drop constraint ${constraint}`));
  }
}

describe('registering at the sandbox hospitals', () => {
  it('registers at General Hospital with client_secret_basic, encrypts the secret, and the secret works', async () => {
    const issuer = await sandboxIssuer(sandbox.general.fhirBase);
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'client_credentials'], scope: 'system/*.read' } } });
    const result = await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', idempotencyKey: key() });
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, result.registrationId));
    expect(reg).toMatchObject({ clientId: result.clientId, authMethod: 'client_secret_basic', managed: true, secretExpiryKind: 'at' });
    expect(reg!.secretExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect(JSON.stringify(reg!.registeredMetadata)).not.toMatch(/client_secret"|registration_access_token/);

    const secret = await readCurrentCredential(getDb(), 'registration', reg!.id, 'client_secret');
    const rows = await getDb().execute(sql`select envelope::text as e from credentials where owner_id = ${reg!.id}`);
    expect(rows.rows.map((r) => String(r.e)).join()).not.toContain(secret!.plaintext);
    const token = await requestClientCredentialsToken({
      tokenEndpoint: issuer.discovery.endpoints.token!.value,
      clientId: reg!.clientId,
      auth: { method: 'client_secret_basic', secret: secret!.plaintext },
      scope: 'system/*.read',
      fetchInit: { policy: await currentOutboundPolicy() },
    });
    expect(token.accessToken).toBeTruthy();
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, result.operationId));
    expect(op?.status).toBe('succeeded');
  });

  it('registers at Mercy Health with private_key_jwt and an initial access token; a token signed with the stored key works', async () => {
    const issuer = await sandboxIssuer(sandbox.mercy.fhirBase);
    const { appId } = await insertApp({
      environments: { production: { tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'ES384', grantTypes: ['client_credentials'], responseTypes: [], redirectUris: ['https://app.example.com/callback'], scope: 'system/Patient.rs' } },
    });
    const iat = await sandbox.mintInitialAccessToken('mercy');
    const result = await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', initialAccessToken: iat, idempotencyKey: key() });
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, result.registrationId));
    expect(reg?.authMethod).toBe('private_key_jwt');
    expect(reg?.requestedMetadata.jwks_uri).toBe(`${env().REGISTRAR_PUBLIC_URL}/api/jwks/${appId}/production`);
    expect(reg?.secretExpiryKind).toBe('none');
    const jwk = (await publishedJwks(appId, 'production')).keys[0]!;
    expect(jwk).not.toHaveProperty('d');
    const token = await requestClientCredentialsToken({
      tokenEndpoint: issuer.discovery.endpoints.token!.value,
      clientId: reg!.clientId,
      auth: { method: 'private_key_jwt', privateKeyPkcs8Pem: await readAppPrivateKey(reg!.appKeyId!), alg: 'ES384', kid: String(jwk.kid) },
      scope: 'system/Patient.rs',
      fetchInit: { policy: await currentOutboundPolicy() },
    });
    expect(token.accessToken).toBeTruthy();
    // The initial access token was not stored anywhere.
    const leak = await getDb().execute(sql`select count(*)::int as n from registration_operations where request::text like ${'%' + iat + '%'}`);
    expect(leak.rows[0]?.n).toBe(0);
  });

  it('registers at the Epic-like server in Epic mode: {software_id, jwks}, a G… client, no secret, no management', async () => {
    const issuer = await sandboxIssuer(sandbox.epic.fhirBase, 'epic-app-nonprod');
    const { appId } = await insertApp({ environments: { 'non-production': { tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'RS384', epicClientId: 'epic-app-nonprod' } } });
    const result = await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'non-production', initialAccessToken: await sandbox.mintInitialAccessToken('epic'), idempotencyKey: key() });
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, result.registrationId));
    expect(reg?.clientId).toMatch(/^G/);
    expect(Object.keys(reg!.requestedMetadata).sort()).toEqual(['jwks', 'software_id']);
    expect(reg).toMatchObject({ managed: false, secretExpiryKind: 'none', authMethod: 'none' });
  });

  it('refuses a software statement in Epic mode, before anything is written or sent', async () => {
    const issuer = await sandboxIssuer(sandbox.epic.fhirBase, 'epic-app-nonprod');
    const { appId } = await insertApp({ environments: { 'non-production': { tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'RS384', epicClientId: 'epic-app-nonprod' } } });
    const iat = await sandbox.mintInitialAccessToken('epic');
    for (const softwareStatement of ['sign', 'eyJhbGciOiJub25lIn0.eyJzb2Z0d2FyZV9pZCI6IngifQ.c2ln']) {
      const idempotencyKey = key();
      const refused = await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'non-production', initialAccessToken: iat, softwareStatement, idempotencyKey }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'INVALID', details: { field: 'softwareStatement' } });
      expect((refused as Error).message).toMatch(/exactly \{software_id, jwks\}/);
      const intentRows = await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, idempotencyKey));
      expect(intentRows).toHaveLength(0);
    }
    // The initial access token was not spent: the same one still registers without a statement.
    const result = await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'non-production', initialAccessToken: iat, idempotencyKey: key() });
    expect(result.clientId).toMatch(/^G/);
  });
});

describe('a software statement Registrar signs (RFC 7591 §2.3)', () => {
  it('is sent in the request, and verifies against the app’s published statement keys, which are not its client authentication keys', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId, profile: { softwareId } } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'private_key_jwt' } } });
    fake.setBehaviour(registrationAnswer(201, { client_secret_expires_at: 0 }));
    await registerApp(ops.actor, { issuerId, appId, environment: 'production', softwareStatement: 'sign', idempotencyKey: key() });
    const statement = (JSON.parse(fake.requests.at(-1)!.body) as { software_statement?: string }).software_statement;
    expect(statement).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    const params = { params: Promise.resolve({ appId, environment: 'production' }) };
    const served = await getStatementKeys(new Request(`http://localhost/api/jwks/${appId}/production/software-statement`), params);
    expect(served.status).toBe(200);
    const jwks = (await served.json()) as { keys: Array<Record<string, unknown>> };
    for (const k of jwks.keys) expect(k).not.toHaveProperty('d');
    const { payload, protectedHeader } = await jwtVerify(statement!, createLocalJWKSet(jwks as never), { issuer: softwareId });
    expect(payload).toMatchObject({ software_id: softwareId, token_endpoint_auth_method: 'private_key_jwt' });

    const clientAuth = (await (await getClientAuthKeys(new Request(`http://localhost/api/jwks/${appId}/production`), params)).json()) as { keys: Array<{ kid: string }> };
    expect(clientAuth.keys.length).toBeGreaterThan(0);
    expect(clientAuth.keys.map((k) => k.kid)).not.toContain(protectedHeader.kid);
  });
});

describe('redirect URIs no server may accept', () => {
  it('refuses an override with a fragment before anything is written or sent, at the redirect URI field', async () => {
    const issuer = await sandboxIssuer(sandbox.general.fhirBase);
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic' } } });
    const idempotencyKey = key();
    const refused = await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', idempotencyKey, overrides: { redirectUris: ['https://app.example.com/callback#x'] } }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'INVALID', details: { field: 'redirectUris' } });
    expect((refused as Error).message).toContain('"https://app.example.com/callback#x"');
    expect(await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, idempotencyKey))).toHaveLength(0);
  });
});

describe('registering what was reviewed', () => {
  it('refuses, before anything is written or sent, when the app profile changed after the review; a fresh review registers', async () => {
    const issuer = await sandboxIssuer(sandbox.general.fhirBase);
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic' } } });
    const input = { issuerId: issuer.id, appId, environment: 'production' };
    const reviewed = (await previewRegistration(ops.actor, input)).reviewedVersions;
    // The review's versions register (and leave the context in the recent-context cache).
    expect((await registerApp(ops.actor, { ...input, idempotencyKey: key(), reviewedVersions: reviewed })).clientId).toBeTruthy();

    // Someone saves the app meanwhile: the cached context is now older than the database.
    await getDb().update(apps).set({ updatedAt: new Date() }).where(eq(apps.id, appId));
    const idempotencyKey = key();
    const refused = await registerApp(ops.actor, { ...input, idempotencyKey, reviewedVersions: reviewed }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'CONFLICT', details: { field: 'review' } });
    expect((refused as Error).message).toMatch(/changed after you checked the request/);
    expect(await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, idempotencyKey))).toHaveLength(0);

    const again = (await previewRegistration(ops.actor, input)).reviewedVersions;
    expect(again.app).not.toBe(reviewed.app);
    expect((await registerApp(ops.actor, { ...input, idempotencyKey: key(), reviewedVersions: again })).clientId).toBeTruthy();
  });

  it('stays valid when the issuer is rediscovered with the same metadata (another tab, refresh all, the schedule), and is refused when the rediscovered metadata differs', async () => {
    const issuer = await sandboxIssuer(sandbox.general.fhirBase);
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic' } } });
    const input = { issuerId: issuer.id, appId, environment: 'production' };
    const reviewed = (await previewRegistration(ops.actor, input)).reviewedVersions;
    const before = await getDb().select({ updatedAt: issuers.updatedAt }).from(issuers).where(eq(issuers.id, issuer.id));
    expect((await refreshIssuer(ops.actor, issuer.id, { trigger: 'refresh-all' })).outcome).toBe('ok');
    const after = await getDb().select({ updatedAt: issuers.updatedAt }).from(issuers).where(eq(issuers.id, issuer.id));
    expect(after[0]!.updatedAt.getTime()).toBeGreaterThan(before[0]!.updatedAt.getTime()); // the row was rewritten
    expect((await registerApp(ops.actor, { ...input, idempotencyKey: key(), reviewedVersions: reviewed })).clientId).toBeTruthy();

    // The hospital now lists one more scope: what is checked against changed, so the review is void.
    await getDb()
      .update(issuers)
      .set({ scopesSupported: sql`array_append(${issuers.scopesSupported}, 'patient/Extra.rs')` })
      .where(eq(issuers.id, issuer.id));
    const idempotencyKey = key();
    const refused = await registerApp(ops.actor, { ...input, idempotencyKey, reviewedVersions: reviewed }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'CONFLICT', details: { field: 'review' } });
    expect(await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, idempotencyKey))).toHaveLength(0);
  });
});

describe('never losing or duplicating a registration', () => {
  it('ten concurrent identical submissions produce exactly one upstream registration', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const before = fake.requests.length;
    const answer = registrationAnswer(201, { client_secret: 'concurrent-secret', client_secret_expires_at: 0 });
    fake.setBehaviour((req, body, res) => void setTimeout(() => answer(req, body, res), 300));
    const idempotencyKey = key();
    const results = await Promise.all(Array.from({ length: 10 }, () => registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey })));
    expect(fake.requests.length - before).toBe(1);
    expect(new Set(results.map((r) => r.registrationId)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    const [{ n } = { n: 0 }] = await getDb().select({ n: count() }).from(registrations).where(eq(registrations.issuerId, issuerId));
    expect(n).toBe(1);
  });

  it('builds the request from the issuer and app in force when the intent row commits, not from ones read earlier', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic' } } });
    fake.setBehaviour(registrationAnswer(201, { client_secret: 's', client_secret_expires_at: 0 }));
    const sent = () => JSON.parse(fake.requests.at(-1)!.body) as Record<string, unknown>;
    await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    expect(sent()).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic' });

    // Another instance re-discovers the issuer (now basic is gone) and saves version 2 of the profile.
    await getDb().update(issuers).set({ tokenEndpointAuthMethodsSupported: ['client_secret_post'] }).where(eq(issuers.id, issuerId));
    const [v1] = await getDb().select().from(appVersions).where(eq(appVersions.appId, appId));
    await getDb().transaction(async (tx) => {
      await tx.insert(appVersions).values({ appId, version: 2, profile: { ...v1!.profile, name: 'Renamed App' }, createdBy: 'test' });
      await tx.update(apps).set({ currentVersion: 2 }).where(eq(apps.id, appId));
    });

    const result = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    expect(sent()).toMatchObject({ token_endpoint_auth_method: 'client_secret_post', client_name: 'Renamed App' });
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, result.registrationId));
    expect(reg).toMatchObject({ appVersion: 2, authMethod: 'client_secret_post' });
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, result.operationId));
    expect(op!.request).toMatchObject({ token_endpoint_auth_method: 'client_secret_post', client_name: 'Renamed App' });

    // Version 3 adds a staging environment: a refusal from the remembered version 2 is not trusted.
    const [v2] = await getDb().select().from(appVersions).where(and(eq(appVersions.appId, appId), eq(appVersions.version, 2)));
    await getDb().transaction(async (tx) => {
      await tx.insert(appVersions).values({ appId, version: 3, profile: { ...v2!.profile, environments: { ...v2!.profile.environments, staging: v2!.profile.environments.production! } }, createdBy: 'test' });
      await tx.update(apps).set({ currentVersion: 3 }).where(eq(apps.id, appId));
    });
    const staging = await registerApp(ops.actor, { issuerId, appId, environment: 'staging', idempotencyKey: key() });
    const [stagingReg] = await getDb().select().from(registrations).where(eq(registrations.id, staging.registrationId));
    expect(stagingReg).toMatchObject({ appVersion: 3, environment: 'staging' });
  });

  it('writes no intent row when the issuer or app versions it was given are outdated', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const fields = { idempotencyKey: key(), requestHash: 'h', issuerId, appId, environment: 'production', request: {}, createdBy: 'test' };
    expect(await claimOperation(fields, { issuer: '1', app: '1' })).toEqual({ kind: 'outdated' });
    const [written] = await getDb().select({ n: count() }).from(registrationOperations).where(eq(registrationOperations.idempotencyKey, fields.idempotencyKey));
    expect(written!.n).toBe(0);
    const { versions } = await registrationContext(issuerId, appId, { fresh: true });
    expect(await claimOperation(fields, versions)).toMatchObject({ kind: 'claimed' });
  });

  it('refuses the same idempotency key with a different request', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(registrationAnswer(201, { client_secret: 's', client_secret_expires_at: 0 }));
    const idempotencyKey = key();
    await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey });
    await expect(registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey, overrides: { clientName: 'Other' } })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('accepts a 200 with a valid body (with a warning) and keeps its secret', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(registrationAnswer(200, { client_secret: 'two-hundred-secret', client_secret_expires_at: 0 }));
    const result = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, result.registrationId));
    expect(reg?.warnings.map((w) => w.code)).toContain('STATUS_200_NOT_201');
    expect(reg?.secretExpiryKind).toBe('never');
    expect((await readCurrentCredential(getDb(), 'registration', reg!.id, 'client_secret'))?.plaintext).toBe('two-hundred-secret');
  });

  it('records a secret without client_secret_expires_at as unknown, and a millisecond expiry as flagged', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(registrationAnswer(201, { client_secret: 'no-expiry' }));
    const a = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    const [ra] = await getDb().select().from(registrations).where(eq(registrations.id, a.registrationId));
    expect(ra?.secretExpiryKind).toBe('unknown');
    const ms = Date.now() + 40 * 86_400_000;
    fake.setBehaviour(registrationAnswer(201, { client_secret: 'ms-expiry', client_secret_expires_at: ms }));
    const b = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    const [rb] = await getDb().select().from(registrations).where(eq(registrations.id, b.registrationId));
    expect(rb?.warnings.map((w) => w.code)).toContain('SECRET_EXPIRY_MILLISECONDS');
    expect(Math.abs(rb!.secretExpiresAt!.getTime() - ms)).toBeLessThan(1000);
  });

  it('keeps the credential in an encrypted recovery file when the database refuses it after the upstream 201, and recover imports it', async () => {
    const setup = await faultyHospitalSetup('fault', 'recovery-canary-secret');
    const envName = setup.environment;
    const error = await registerWhileRegistrationsRefused(setup, 2);
    expect(error).toMatchObject({ code: 'NEEDS_RECOVERY' });
    expect(String((error as Error).message)).not.toContain('recovery-canary-secret');
    const files = readdirSync(recoveryDir()).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const { imported } = await importRecoveryFiles();
    expect(imported).toBeGreaterThanOrEqual(1);
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.environment, envName));
    expect((await readCurrentCredential(getDb(), 'registration', reg!.id, 'client_secret'))?.plaintext).toBe('recovery-canary-secret');
    expect(existsSync(path.join(recoveryDir(), 'imported', files[0]!))).toBe(true);
  });

  it('an answer with a client_id Registrar already holds for another registration is kept in a recovery file (needs recovery), never dropped; an import meets the same conflict and keeps the file', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const clientId = `reused-${uniqueSuffix()}`;
    fake.setBehaviour(registrationAnswer(201, { client_id: clientId, client_secret: 'first-secret', client_secret_expires_at: 0 }));
    const first = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    const secret = `second-canary-${uniqueSuffix()}`;
    fake.setBehaviour(registrationAnswer(201, { client_id: clientId, client_secret: secret, client_secret_expires_at: 0 }));
    const error = (await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() }).catch((e: unknown) => e)) as Error & { code: string; details: { operationId: string } };
    expect(error).toMatchObject({ code: 'NEEDS_RECOVERY' });
    expect(error.message).not.toContain(secret);
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, error.details.operationId));
    expect(op).toMatchObject({ status: 'needs_recovery', registrationId: null });
    expect(op?.error?.message).toMatch(new RegExp(`client_id ${clientId}, which Registrar already holds`));
    // The first registration keeps its own secret; the second answer is in its recovery file.
    expect((await readCurrentCredential(getDb(), 'registration', first.registrationId, 'client_secret'))?.plaintext).toBe('first-secret');
    const file = readdirSync(recoveryDir()).find((f) => f.startsWith(error.details.operationId));
    expect(file).toBeDefined();
    await importRecoveryFiles();
    expect(existsSync(path.join(recoveryDir(), file!))).toBe(true);
    const [still] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, error.details.operationId));
    expect(still).toMatchObject({ status: 'needs_recovery', registrationId: null });
  });

  it('when neither the database nor the disk takes the answer, the operation still says so (needs recovery, the client to look for), audited', async () => {
    const secret = `nodisk-canary-${uniqueSuffix()}`;
    const setup = await faultyHospitalSetup('nodisk', secret);
    const dir = recoveryDir();
    // The recovery folder cannot be created (a file stands in its place): the write fails as on a full or read-only disk.
    mkdirSync(dir, { recursive: true });
    renameSync(dir, `${dir}.aside`);
    writeFileSync(dir, 'not a folder');
    let error: Error & { code?: string; details?: { operationId: string; clientId: string } };
    try {
      error = (await registerWhileRegistrationsRefused(setup, 1)) as typeof error;
    } finally {
      rmSync(dir);
      renameSync(`${dir}.aside`, dir);
    }
    expect(error).toMatchObject({ code: 'NEEDS_RECOVERY' });
    expect(error.message).toMatch(/could neither save it.* nor write its recovery file/);
    expect(error.message).toContain(error.details!.clientId);
    expect(error.message).not.toContain(secret);
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, error.details!.operationId));
    expect(op).toMatchObject({ status: 'needs_recovery', error: { code: 'NEEDS_RECOVERY' } });
    const audits = await getDb().select().from(auditLog).where(sql`${auditLog.details}->>'clientId' = ${error.details!.clientId}`);
    expect(audits.map((a) => a.outcome)).toEqual(['failure']);
  });

  it('recover does not import a renamed copy of a recovery file a second time', async () => {
    const setup = await faultyHospitalSetup('copy', `copy-${uniqueSuffix()}`);
    const envName = setup.environment;
    const error = (await registerWhileRegistrationsRefused(setup, 1)) as { details: { operationId: string } };
    const file = readdirSync(recoveryDir()).find((f) => f.startsWith(error.details.operationId))!;
    const copy = `${randomUUID()}-copy0000.json`;
    copyFileSync(path.join(recoveryDir(), file), path.join(recoveryDir(), copy));
    await importRecoveryFiles();
    expect(existsSync(path.join(recoveryDir(), 'imported', file))).toBe(true);
    expect(existsSync(path.join(recoveryDir(), copy))).toBe(true);
    expect(await getDb().select().from(registrations).where(eq(registrations.environment, envName))).toHaveLength(1);
    rmSync(path.join(recoveryDir(), copy));
  });

  // The answer is stored in one statement (data-modifying CTEs): a failure in any part of it must
  // undo every part, and end in retries and then the recovery file, as a failure of the first part does.
  it.each([
    ['the credentials', (env: string, fp: string) => `alter table credentials add constraint %s check (fingerprint <> '${fp}') not valid`, 'credentials'],
    ['the operation result', (env: string) => `alter table registration_operations add constraint %s check (status <> 'succeeded' or environment <> '${env}') not valid`, 'registration_operations'],
    ['the audit row', (env: string) => `alter table audit_log add constraint %s check (outcome <> 'success' or (details->>'environment') is distinct from '${env}') not valid`, 'audit_log'],
  ] as const)('writes nothing when %s cannot be stored, keeps the answer in a recovery file, and recover imports all of it', async (_what, constraintSql, table) => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const envName = `fault-${uniqueSuffix()}`;
    const { appId } = await insertApp({ environments: { [envName]: {} } });
    const secret = `part-canary-${uniqueSuffix()}`;
    fake.setBehaviour(registrationAnswer(201, { client_secret: secret, client_secret_expires_at: 0 }));
    const constraint = `persist_fault_${uniqueSuffix()}`;
    await getDb().execute(sql.raw(constraintSql(envName, fingerprintSecret(secret)).replace('%s', constraint)));
    let error: unknown;
    try {
      error = await registerApp(ops.actor, { issuerId, appId, environment: envName, idempotencyKey: key() }, { persistAttempts: 2 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'NEEDS_RECOVERY' });
      expect(String((error as Error).message)).not.toContain(secret);
      const operationId = (error as { details: { operationId: string } }).details.operationId;
      // Nothing of the answer landed: no registration, no credential, no success audit row, the operation awaits recovery.
      expect(await getDb().select().from(registrations).where(eq(registrations.environment, envName))).toHaveLength(0);
      expect(await getDb().select().from(credentials).where(eq(credentials.fingerprint, fingerprintSecret(secret)))).toHaveLength(0);
      const audits = await getDb().select().from(auditLog).where(sql`${auditLog.details}->>'operationId' = ${operationId}`);
      expect(audits.filter((a) => a.outcome === 'success')).toHaveLength(0);
      const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, operationId));
      expect(op?.status).toBe('needs_recovery');
    } finally {
      await getDb().execute(sql.raw(`alter table ${table} drop constraint ${constraint}`));
    }
    const { imported } = await importRecoveryFiles();
    expect(imported).toBeGreaterThanOrEqual(1);
    const [reg] = await getDb().select().from(registrations).where(eq(registrations.environment, envName));
    expect((await readCurrentCredential(getDb(), 'registration', reg!.id, 'client_secret'))?.plaintext).toBe(secret);
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.registrationId, reg!.id));
    expect(op?.status).toBe('succeeded');
    const recovered = await getDb().select().from(auditLog).where(and(eq(auditLog.targetType, 'registration'), eq(auditLog.targetId, reg!.id)));
    expect(recovered.map((a) => [a.action, a.outcome])).toEqual([['registration.recover', 'success']]);
  });

  it('marks a timeout after sending as outcome unknown and says what to look for at the hospital', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour(() => {}); // never answers
    const error = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() }, { fetchInit: { headersTimeoutMs: 300, totalTimeoutMs: 500 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect((error as Error).message).toMatch(/cannot tell whether/);
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, (error as { details: { operationId: string } }).details.operationId));
    expect(op?.status).toBe('outcome_unknown');
  });

  it('reports a 500 HTML page as the hospital being unavailable and writes no registration', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    fake.setBehaviour((_req, _body, res) => {
      res.statusCode = 500;
      res.setHeader('content-type', 'text/html');
      res.end('<html><body><h1>Internal Server Error</h1></body></html>');
    });
    await expect(registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() })).rejects.toMatchObject({ code: 'UPSTREAM_UNREACHABLE' });
    expect(await getDb().select().from(registrations).where(eq(registrations.issuerId, issuerId))).toHaveLength(0);
    const audits = await getDb().select().from(auditLog).where(eq(auditLog.targetId, issuerId));
    expect(audits.some((a) => a.action === 'registration.create' && a.outcome === 'failure')).toBe(true);
  });

  it('refuses support with FORBIDDEN before anything is sent', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const before = fake.requests.length;
    await expect(registerApp(support.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(fake.requests.length).toBe(before);
    expect(await getDb().select().from(registrationOperations).where(eq(registrationOperations.issuerId, issuerId))).toHaveLength(0);
  });

  it('a canary secret never appears outside its encrypted envelope', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register` });
    const { appId } = await insertApp({ environments: { production: {} } });
    const canary = `canary-${uniqueSuffix()}-secret`;
    fake.setBehaviour(registrationAnswer(201, { client_secret: canary, registration_access_token: `${canary}-rat`, client_secret_expires_at: 0, registration_client_uri: `${fake.origin}/register/x` }));
    const result = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: key() });
    expect(JSON.stringify(result)).not.toContain(canary);
    for (const table of ['registrations', 'registration_operations', 'audit_log', 'app_versions', 'issuers']) {
      const hit = await getDb().execute(sql.raw(`select count(*)::int as n from ${table} t where t::text like '%${canary}%'`));
      expect(hit.rows[0]?.n, table).toBe(0);
    }
    const envelopes = await getDb().select({ e: sql<string>`${credentials.envelope}::text` }).from(credentials).where(eq(credentials.ownerId, result.registrationId));
    expect(envelopes.length).toBe(3);
    expect(envelopes.map((r) => r.e).join()).not.toContain(canary);
  });
});
