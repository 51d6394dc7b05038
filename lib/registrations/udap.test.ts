import 'reflect-metadata';
import { randomUUID, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { eq } from 'drizzle-orm';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import { issuers, registrationOperations, registrations } from '@/db/schema';
import { keyCanary, makeUdapPki, tablesContaining, type UdapTestPki } from '@/lib/apps/testing/udap-pki';
import { uploadUdapCertificate } from '@/lib/apps/udap';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { previewRegistration } from './preview';
import { registerApp } from './register';
import { previewUdapStatement } from './udap';

/**
 * A UDAP registration endpoint on loopback (HL7 UDAP Security §3.1): it verifies the statement
 * with the x5c leaf, the leaf's issuance by its trusted CA, iss = sub = a URI SAN of the leaf,
 * aud = itself, exp - iat ≤ 300, a jti never seen before, and udap = "1"; then answers 201.
 */
async function startUdapServer() {
  const trustAnchors: X509Certificate[] = [];
  const accepted: Array<{ header: Record<string, unknown>; claims: Record<string, unknown>; body: Record<string, unknown> }> = [];
  const refused: string[] = [];
  const seenJti = new Set<string>();
  let origin = '';
  const verify = async (body: Record<string, unknown>): Promise<string | { header: Record<string, unknown>; claims: Record<string, unknown> }> => {
    if (body.udap !== '1') return 'udap must be "1"';
    const jwt = body.software_statement;
    if (typeof jwt !== 'string') return 'software_statement is required';
    const header = decodeProtectedHeader(jwt);
    if (!Array.isArray(header.x5c) || typeof header.alg !== 'string') return 'x5c and alg are required';
    const leafPem = `-----BEGIN CERTIFICATE-----\n${header.x5c[0]}\n-----END CERTIFICATE-----`;
    const leaf = new X509Certificate(leafPem);
    if (!trustAnchors.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) return 'the client certificate is not issued by a trusted CA';
    const { payload } = await jwtVerify(jwt, await importX509(leafPem, header.alg), { audience: `${origin}/udap/register`, algorithms: ['RS256', 'ES256', 'ES384'] });
    const uris = new x509.X509Certificate(leafPem).getExtension(x509.SubjectAlternativeNameExtension)?.names.items.filter((n) => n.type === 'url').map((n) => n.value) ?? [];
    if (typeof payload.iss !== 'string' || !uris.includes(payload.iss)) return 'iss must be a URI SAN of the client certificate';
    if (payload.sub !== payload.iss) return 'sub must equal iss';
    if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 300) return 'exp must be at most 300 s after iat';
    if (typeof payload.jti !== 'string' || seenJti.has(payload.jti)) return 'jti must be unique';
    seenJti.add(payload.jti);
    return { header: header as Record<string, unknown>, claims: payload as Record<string, unknown> };
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      void (async () => {
        const body = JSON.parse(raw || '{}') as Record<string, unknown>;
        const verdict = await verify(body).catch((e: unknown) => (e instanceof Error ? e.message : 'unreadable'));
        res.setHeader('content-type', 'application/json');
        if (typeof verdict === 'string') {
          refused.push(verdict);
          res.statusCode = 400;
          return res.end(JSON.stringify({ error: 'invalid_software_statement', error_description: verdict }));
        }
        accepted.push({ ...verdict, body });
        const { client_name, grant_types, token_endpoint_auth_method, scope, contacts, software_id } = verdict.claims;
        res.statusCode = 201;
        res.end(JSON.stringify({ client_id: `udap-${accepted.length}-${randomUUID().slice(0, 8)}`, client_id_issued_at: Math.floor(Date.now() / 1000), client_name, grant_types, token_endpoint_auth_method, scope, contacts, software_id }));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    endpoint: `${origin}/udap/register`,
    trustAnchors,
    accepted,
    refused,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

let udap: Awaited<ReturnType<typeof startUdapServer>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let pki: UdapTestPki;
const key = () => randomUUID() + randomUUID();
const environments = { production: { grantTypes: ['client_credentials'], responseTypes: [], redirectUris: [], tokenEndpointAuthMethod: 'client_secret_basic' as const, scope: 'system/Patient.rs' } };

beforeAll(async () => {
  udap = await startUdapServer();
  ops = await insertUser({ role: 'ops' });
  const admin = await insertUser({ role: 'admin' });
  await addAllowlistEntry(admin.actor, { entry: `http://${new URL(udap.origin).host}` }).catch(() => {});
  pki = await makeUdapPki('ES384');
  udap.trustAnchors.push(new X509Certificate(pki.caPem));
});

afterAll(async () => {
  await udap.close();
  await closeDb();
});

async function udapIssuerAndApp() {
  const { issuerId } = await insertIssuer({ registrationEndpoint: udap.endpoint });
  await getDb().update(issuers).set({ documentsFound: ['udap'] }).where(eq(issuers.id, issuerId));
  const { appId, profile } = await insertApp({ environments });
  await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: `${pki.leafPem}\n${pki.caPem}`, privateKeyPem: pki.leafKeyPem });
  return { issuerId, appId, profile };
}

describe('UDAP registration through registerApp', () => {
  it('previews the decoded statement, then registers with {software_statement, udap: "1"} that the endpoint verifies with the x5c leaf', async () => {
    const { issuerId, appId, profile } = await udapIssuerAndApp();
    const plain = await previewRegistration(ops.actor, { issuerId, appId, environment: 'production' });
    expect(plain.udap).toMatchObject({ advertised: true, certificate: { sanUri: pki.sanUri } });

    const preview = await previewUdapStatement(ops.actor, { issuerId, appId, environment: 'production' });
    expect(preview.advertised).toBe(true);
    expect(preview.header).toMatchObject({ alg: 'ES384', x5c: [new X509Certificate(pki.leafPem).raw.toString('base64'), new X509Certificate(pki.caPem).raw.toString('base64')] });
    expect(preview.claims).toMatchObject({
      iss: pki.sanUri,
      sub: pki.sanUri,
      aud: udap.endpoint,
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      client_name: profile.name,
      software_id: profile.softwareId,
      scope: 'system/Patient.rs',
    });
    expect(Number(preview.claims.exp) - Number(preview.claims.iat)).toBeLessThanOrEqual(300);
    expect(typeof preview.claims.jti).toBe('string');
    // Without authorization_code: no redirect_uris or response_types; UDAP never sends a JWKS.
    expect(preview.claims).not.toHaveProperty('redirect_uris');
    expect(preview.claims).not.toHaveProperty('jwks');
    expect(preview.claims).not.toHaveProperty('jwks_uri');
    // Decoded parts only: no signed statement leaves the preview.
    expect(JSON.stringify(preview)).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    expect(preview.adaptations.map((a) => a.field)).toContain('token_endpoint_auth_method');

    const before = udap.accepted.length;
    const result = await registerApp(ops.actor, { issuerId, appId, environment: 'production', softwareStatement: 'udap', idempotencyKey: key() });
    expect(udap.accepted.length).toBe(before + 1);
    const sent = udap.accepted.at(-1)!;
    expect(Object.keys(sent.body).sort()).toEqual(['software_statement', 'udap']);
    expect(sent.claims).toMatchObject({ iss: pki.sanUri, sub: pki.sanUri, aud: udap.endpoint, client_name: profile.name });
    // Register signs a fresh statement: a new jti.
    expect(sent.claims.jti).not.toBe(preview.claims.jti);

    const [reg] = await getDb().select().from(registrations).where(eq(registrations.id, result.registrationId));
    expect(reg).toMatchObject({ clientId: result.clientId, authMethod: 'private_key_jwt', secretExpiryKind: 'none' });
    expect(reg?.appKeyId).toBeTruthy();
    expect(reg?.requestedMetadata).toMatchObject({ udap: '1', client_name: profile.name, software_id: profile.softwareId });
    expect(String(reg?.requestedMetadata.software_statement)).toMatch(/…\(signed JWT\)$/);
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, result.operationId));
    expect(op?.status).toBe('succeeded');
    expect(op?.request).toMatchObject({ udap: '1', software_id: profile.softwareId });
  });

  it('the endpoint refusing the statement is reported as the upstream error, with the operation failed', async () => {
    const { issuerId, appId } = await udapIssuerAndApp();
    const anchors = udap.trustAnchors.splice(0);
    try {
      const error = await registerApp(ops.actor, { issuerId, appId, environment: 'production', softwareStatement: 'udap', idempotencyKey: key() }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UPSTREAM_REJECTED' });
      expect((error as Error).message).toContain('not issued by a trusted CA');
    } finally {
      udap.trustAnchors.push(...anchors);
    }
  });

  it('refuses UDAP for an app without a certificate for the environment, before anything is sent', async () => {
    const { issuerId } = await insertIssuer({ registrationEndpoint: udap.endpoint });
    const { appId } = await insertApp({ environments });
    const before = udap.accepted.length + udap.refused.length;
    const error = await registerApp(ops.actor, { issuerId, appId, environment: 'production', softwareStatement: 'udap', idempotencyKey: key() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID' });
    expect((error as Error).message).toMatch(/no UDAP certificate for the "production" environment/);
    expect(udap.accepted.length + udap.refused.length).toBe(before);
    expect(await getDb().select().from(registrationOperations).where(eq(registrationOperations.appId, appId))).toHaveLength(0);
  });

  it('the private key appears in no table after upload, preview and registration (credentials envelopes are encrypted)', async () => {
    const own = await makeUdapPki('RS256', { sanUri: 'https://registrar.example.com/udap/canary' });
    udap.trustAnchors.push(new X509Certificate(own.caPem));
    const { issuerId } = await insertIssuer({ registrationEndpoint: udap.endpoint });
    const { appId } = await insertApp({ environments });
    const uploaded = await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: own.leafPem + own.caPem, privateKeyPem: own.leafKeyPem });
    const preview = await previewUdapStatement(ops.actor, { issuerId, appId, environment: 'production' });
    const result = await registerApp(ops.actor, { issuerId, appId, environment: 'production', softwareStatement: 'udap', idempotencyKey: key() });
    const canary = keyCanary(own.leafKeyPem);
    for (const returned of [uploaded, preview, result]) expect(canary.foundIn(JSON.stringify(returned))).toBe(false);
    expect(await tablesContaining(canary.fragments)).toEqual({});
  });
});
