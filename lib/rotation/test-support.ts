/**
 * Helpers shared by the rotation tests: sandbox issuers, apps that may use client_credentials (so a
 * token request can verify a credential), Registrar's JWKS served on loopback, and a token probe.
 * Test-only (imported by *.test.ts files).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq, inArray, like, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { insertApp, insertUser, uniqueSuffix } from '@/db/factories';
import { appKeys, credentials, registrationOperations, registrations, rotations, type EnvironmentProfile } from '@/db/schema';
import { readAppPrivateKey } from '@/lib/apps/keys';
import { publishedJwks } from '@/lib/apps/queries';
import type { Actor } from '@/lib/auth/actor';
import { readCurrentCredential } from '@/lib/credentials/store';
import { resetEnvCache } from '@/lib/env';
import { AppError, isAppError } from '@/lib/errors';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { addSandboxIssuer } from '@/test/support/issuers';
import { requestClientCredentialsToken } from '@/lib/oauth/registration';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { registerApp } from '@/lib/registrations/register';
import { startSandbox } from '@/sandbox/index';

export async function allowlist(admin: Actor, origin: string): Promise<void> {
  await addAllowlistEntry(admin, { entry: `http://${new URL(origin).host}` }).catch(() => {});
}

/** The sandbox, an admin and an ops user, General Hospital allowlisted and added as an issuer: where most rotation tests start. */
export async function generalSandbox(opts: { generalIssuesSecretOnUpdate?: boolean } = {}) {
  const sandbox = await startSandbox({ log: () => {}, ...opts });
  const admin = await insertUser({ role: 'admin' });
  const ops = await insertUser({ role: 'ops' });
  await allowlist(admin.actor, sandbox.general.origin);
  const issuerId = (await sandboxIssuer(ops.actor, sandbox.general.fhirBase)).id;
  return { sandbox, admin, ops, issuerId };
}

export async function sandboxIssuer(ops: Actor, url: string, epicClientId?: string) {
  const system = await createHealthSystem(ops, { name: `Rotation ${uniqueSuffix()}` });
  return addSandboxIssuer(ops, { healthSystemId: system.id, url, environment: 'sandbox', epicClientId });
}

/** An app whose registrations may use client_credentials, so a token request can prove a credential works. */
export async function clientCredentialsApp(env: Partial<EnvironmentProfile> = {}, environment = 'production') {
  return insertApp({
    environments: {
      [environment]: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'client_credentials'], scope: 'system/*.read', ...env },
    },
  });
}

export async function register(actor: Actor, issuerId: string, appId: string, opts: { environment?: string; initialAccessToken?: string | null } = {}) {
  return registerApp(actor, { issuerId, appId, environment: opts.environment ?? 'production', idempotencyKey: randomUUID() + randomUUID(), initialAccessToken: opts.initialAccessToken ?? null });
}

export async function registrationRow(id: string) {
  const [row] = await getDb().select().from(registrations).where(eq(registrations.id, id));
  if (!row) throw new Error(`no registration ${id}`);
  return row;
}

export async function rotationRows(registrationId: string) {
  return getDb().select().from(rotations).where(eq(rotations.registrationId, registrationId)).orderBy(rotations.createdAt);
}

/** client_secret rows that are current across a registration and every registration that replaced it. */
export async function currentSecretsInChain(registrationId: string): Promise<number> {
  const ids = [registrationId];
  for (let id: string | null = registrationId; id; ) {
    const [row] = await getDb().select({ next: registrations.replacedByRegistrationId }).from(registrations).where(eq(registrations.id, id));
    id = row?.next ?? null;
    if (id) ids.push(id);
  }
  const replacements = await getDb().select({ id: registrations.id }).from(registrations).where(inArray(registrations.replacesRegistrationId, ids));
  const all = [...new Set([...ids, ...replacements.map((r) => r.id)])];
  const [row] = await getDb()
    .select({ n: sql<number>`count(*)::int` })
    .from(credentials)
    .where(and(eq(credentials.ownerType, 'registration'), inArray(credentials.ownerId, all), eq(credentials.kind, 'client_secret'), eq(credentials.state, 'current')));
  return row?.n ?? 0;
}

/** Intent rows written for a rotation's re-registration (the idempotency key is derived from the rotation id). */
export async function rotationOperations(rotationId: string) {
  return getDb().select().from(registrationOperations).where(like(registrationOperations.idempotencyKey, `rotation:${rotationId}:%`));
}

export async function replacementsOf(registrationId: string) {
  return getDb().select().from(registrations).where(eq(registrations.replacesRegistrationId, registrationId));
}

/**
 * A token request with whatever credential Registrar calls current for this client's chain: the
 * registration at the end of the replacement chain, its current secret or its signing key.
 */
export async function tokenWithCurrentCredential(registrationId: string, tokenEndpoint: string): Promise<{ clientId: string }> {
  // One snapshot: the end of the chain and its credential are read together, as a deployment would.
  const current = await getDb().transaction(
    async (tx) => {
      let id = registrationId;
      for (let hops = 0; hops < 50; hops++) {
        const [row] = await tx.select({ next: registrations.replacedByRegistrationId }).from(registrations).where(eq(registrations.id, id));
        if (!row?.next) break;
        id = row.next;
      }
      const [reg] = await tx.select().from(registrations).where(eq(registrations.id, id));
      const secret = reg!.authMethod === 'private_key_jwt' ? null : await readCurrentCredential(tx, 'registration', id, 'client_secret');
      return { reg: reg!, secret };
    },
    { isolationLevel: 'repeatable read' },
  );
  const { reg, secret } = current;
  if (reg.authMethod === 'private_key_jwt') {
    const [key] = await getDb().select().from(appKeys).where(eq(appKeys.id, reg.appKeyId!));
    await requestClientCredentialsToken({
      tokenEndpoint,
      clientId: reg.clientId,
      auth: { method: 'private_key_jwt', privateKeyPkcs8Pem: await readAppPrivateKey(key!.id), alg: key!.alg as 'ES384', kid: key!.kid },
      fetchInit: { policy: await currentOutboundPolicy() },
    });
    return { clientId: reg.clientId };
  }
  if (!secret) throw new Error(`registration ${reg.id} has no current secret`);
  await requestClientCredentialsToken({ tokenEndpoint, clientId: reg.clientId, auth: { method: 'client_secret_basic', secret: secret.plaintext }, fetchInit: { policy: await currentOutboundPolicy() } });
  return { clientId: reg.clientId };
}

/** Registrar's /api/jwks served on loopback from the same domain function, so hospitals can fetch a registered jwks_uri. */
export async function startJwksServer(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const match = /^\/api\/jwks\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
    const jwks = match ? await publishedJwks(match[1]!, decodeURIComponent(match[2]!)) : { keys: [] };
    res.statusCode = jwks.keys.length ? 200 : 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.REGISTRAR_PUBLIC_URL = origin;
  resetEnvCache();
  return { origin, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export async function captureError(fn: () => Promise<unknown>): Promise<AppError> {
  try {
    await fn();
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

/** The error a test's afterStep hook throws to simulate the process dying at a step boundary. */
export class SimulatedCrash extends Error {
  constructor(readonly step: string) {
    super(`simulated crash after ${step}`);
  }
}
