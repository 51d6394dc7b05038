// @peculiar/x509 2.x (through tsyringe) needs a Reflect metadata polyfill loaded first.
import 'reflect-metadata';

import { X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';

import * as x509 from '@peculiar/x509';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildUdapSoftwareStatement, decodeJwtUnverified, registerClient, type RegistrationFetchInit } from './index';
import { captureError, listen, loopbackPolicy, readRequestBody, type Loopback } from './test-support';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const SAN_URI = 'https://registrar.example.com/udap/apps/registrar';
type Alg = 'RS256' | 'ES384';

const KEY_PARAMS: Record<Alg, RsaHashedKeyGenParams | EcKeyGenParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
};
const SIGNING: Record<Alg, Algorithm | EcdsaParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  ES384: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams,
};

function pkcs8Pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

type TestPki = { caPem: string; leafPem: string; leafKeyPem: string; otherKeyPem: string };

/** A test CA and a client certificate it issued, with a URI SAN (what a UDAP community issues). */
async function makePki(alg: Alg, opts: { sanUri?: string } = {}): Promise<TestPki> {
  const subtle = webcrypto.subtle;
  const caKeys = (await subtle.generateKey(KEY_PARAMS[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Registrar Test Community CA',
    keys: caKeys,
    signingAlgorithm: { ...KEY_PARAMS[alg], ...SIGNING[alg] },
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leafKeys = (await subtle.generateKey(KEY_PARAMS[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const otherKeys = (await subtle.generateKey(KEY_PARAMS[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    subject: 'CN=Registrar',
    issuer: ca.subject,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: { ...KEY_PARAMS[alg], ...SIGNING[alg] },
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: opts.sanUri === '' ? [] : [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: opts.sanUri ?? SAN_URI }])],
  });
  return {
    caPem: ca.toString('pem'),
    leafPem: leaf.toString('pem'),
    leafKeyPem: pkcs8Pem(await subtle.exportKey('pkcs8', leafKeys.privateKey)),
    otherKeyPem: pkcs8Pem(await subtle.exportKey('pkcs8', otherKeys.privateKey)),
  };
}

let server: Loopback;
let fetchInit: RegistrationFetchInit;
let trustAnchors: NodeX509Certificate[] = [];
const seen: Array<Record<string, unknown>> = [];

/**
 * A minimal UDAP registration endpoint: verifies the statement with the x5c leaf, the leaf's
 * issuance by a trusted CA, iss = sub = a URI SAN of the leaf, aud = this endpoint,
 * exp - iat ≤ 300, a jti, and udap = "1".
 */
async function verifyRegistration(body: unknown, endpoint: string): Promise<string | Record<string, unknown>> {
  if (typeof body !== 'object' || body === null) return 'body must be a JSON object';
  const { software_statement: jwt, udap } = body as Record<string, unknown>;
  if (udap !== '1') return 'udap must be "1"';
  if (typeof jwt !== 'string') return 'software_statement is required';
  const header = decodeProtectedHeader(jwt);
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof header.alg !== 'string') return 'x5c and alg are required';
  const leafPem = `-----BEGIN CERTIFICATE-----\n${x5c[0]}\n-----END CERTIFICATE-----`;
  const leaf = new NodeX509Certificate(leafPem);
  if (!trustAnchors.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) return 'the client certificate is not issued by a trusted CA';
  const { payload } = await jwtVerify(jwt, await importX509(leafPem, header.alg), { audience: endpoint, algorithms: ['RS256', 'ES384'] });
  const uris = new x509.X509Certificate(leafPem).getExtension(x509.SubjectAlternativeNameExtension)?.names.items.filter((n) => n.type === 'url').map((n) => n.value) ?? [];
  if (typeof payload.iss !== 'string' || !uris.includes(payload.iss)) return 'iss must be a URI SAN of the client certificate';
  if (payload.sub !== payload.iss) return 'sub must equal iss';
  if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 300) return 'exp must be at most 300 s after iat';
  if (typeof payload.jti !== 'string' || payload.jti === '') return 'jti is required';
  return payload;
}

beforeAll(async () => {
  server = await listen((req, res) => {
    void (async () => {
      const endpoint = `${server.origin}/udap/register`;
      const verdict = await verifyRegistration(JSON.parse(await readRequestBody(req)), endpoint).catch((e: unknown) => (e instanceof Error ? e.message : 'unreadable'));
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (typeof verdict === 'string') return send(400, { error: 'invalid_software_statement', error_description: verdict });
      seen.push(verdict);
      const { client_name, grant_types, token_endpoint_auth_method, scope, redirect_uris, response_types, contacts } = verdict;
      return send(201, {
        client_id: `udap-${seen.length}`,
        client_name,
        grant_types,
        token_endpoint_auth_method,
        scope,
        redirect_uris,
        response_types,
        contacts,
      });
    })();
  });
  fetchInit = { policy: loopbackPolicy(server.origin) };
});

afterAll(async () => {
  await server?.close();
});

const metadata = {
  client_name: 'Registrar (UDAP)',
  grant_types: ['client_credentials'],
  scope: 'system/Patient.rs',
  contacts: ['mailto:ops@registrar.example.com'],
};

describe('UDAP software statements', () => {
  for (const alg of ['RS256', 'ES384'] as const) {
    it(`signs a ${alg} statement the endpoint verifies with the x5c leaf: iss = sub = SAN URI, aud = endpoint, exp - iat = 300`, async () => {
      const pki = await makePki(alg);
      trustAnchors = [new NodeX509Certificate(pki.caPem)];
      const endpoint = `${server.origin}/udap/register`;
      const built = await buildUdapSoftwareStatement({
        certificateChainPem: [pki.leafPem, pki.caPem],
        privateKeyPkcs8Pem: pki.leafKeyPem,
        alg,
        registrationEndpoint: endpoint,
        metadata,
      });
      expect(built.body).toEqual({ software_statement: built.jwt, udap: '1' });
      expect(built.claims).toMatchObject({ iss: SAN_URI, sub: SAN_URI, aud: endpoint, token_endpoint_auth_method: 'private_key_jwt', ...metadata });
      expect(Number(built.claims.exp) - Number(built.claims.iat)).toBe(300);

      const decoded = decodeJwtUnverified(built.jwt);
      expect(decoded.header.alg).toBe(alg);
      expect(decoded.header.x5c).toEqual([new NodeX509Certificate(pki.leafPem).raw.toString('base64'), new NodeX509Certificate(pki.caPem).raw.toString('base64')]);
      expect(decoded.payload).toEqual(built.claims);

      const reg = await registerClient({ registrationEndpoint: endpoint, metadata: built.body, fetchInit });
      expect(reg.httpStatus).toBe(201);
      expect(reg.clientId).toMatch(/^udap-/);
      // The statement's claims are what was requested: the server kept them all.
      expect(reg.warnings).toEqual([]);
    });
  }

  it('uses a fresh jti each time', async () => {
    const pki = await makePki('ES384');
    const build = () =>
      buildUdapSoftwareStatement({ certificateChainPem: [pki.leafPem], privateKeyPkcs8Pem: pki.leafKeyPem, alg: 'ES384', registrationEndpoint: 'https://as.example.com/reg', metadata });
    const [a, b] = await Promise.all([build(), build()]);
    expect(a.claims.jti).not.toBe(b.claims.jti);
  });

  it('a statement for another audience is refused by the endpoint as invalid_software_statement on software_statement', async () => {
    const pki = await makePki('ES384');
    trustAnchors = [new NodeX509Certificate(pki.caPem)];
    const built = await buildUdapSoftwareStatement({
      certificateChainPem: [pki.leafPem, pki.caPem],
      privateKeyPkcs8Pem: pki.leafKeyPem,
      alg: 'ES384',
      registrationEndpoint: 'https://elsewhere.example.com/register',
      metadata,
    });
    const error = await captureError(() => registerClient({ registrationEndpoint: `${server.origin}/udap/register`, metadata: built.body, fetchInit }));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.info).toMatchObject({ kind: 'rfc7591', status: 400, error: 'invalid_software_statement', field: 'software_statement' });
  });

  it('refuses before signing: a key that is not the leaf key, a leaf without a URI SAN, a chain not leaf-first or not signed by its issuer, reserved claims', async () => {
    const pki = await makePki('ES384');
    const base = { certificateChainPem: [pki.leafPem, pki.caPem], privateKeyPkcs8Pem: pki.leafKeyPem, alg: 'ES384' as const, registrationEndpoint: 'https://as.example.com/reg', metadata };

    const wrongKey = await captureError(() => buildUdapSoftwareStatement({ ...base, privateKeyPkcs8Pem: pki.otherKeyPem }));
    expect(wrongKey.code).toBe('INVALID');
    expect(wrongKey.message).toContain('does not belong to the client certificate');

    const noSan = await makePki('ES384', { sanUri: '' });
    const missing = await captureError(() => buildUdapSoftwareStatement({ ...base, certificateChainPem: [noSan.leafPem], privateKeyPkcs8Pem: noSan.leafKeyPem }));
    expect(missing.message).toContain('no URI subjectAltName');

    const reversed = await captureError(() => buildUdapSoftwareStatement({ ...base, certificateChainPem: [pki.caPem, pki.leafPem] }));
    expect(reversed.code).toBe('INVALID');

    // A CA of the same name with other keys did not sign the leaf: refused by its signature.
    const impostor = await makePki('ES384');
    const forged = await captureError(() => buildUdapSoftwareStatement({ ...base, certificateChainPem: [pki.leafPem, impostor.caPem] }));
    expect(forged.message).toMatch(/names certificate 2 as its issuer, but is not signed by its key/);

    const reserved = await captureError(() => buildUdapSoftwareStatement({ ...base, metadata: { ...metadata, iss: 'https://someone.else' } }));
    expect(reserved.message).toContain('iss');

    const notSan = await captureError(() => buildUdapSoftwareStatement({ ...base, issuer: 'https://not-a-san.example.com' }));
    expect(notSan.message).toContain('not a URI subjectAltName');
  });
});
