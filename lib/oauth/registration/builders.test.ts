import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';

import { AppError } from '@/lib/errors';

import { classifyTransportFailure, fieldFromDescription, firstLineOfText, parseBearerChallenge } from './errors';
import {
  buildEpicRegistrationBody,
  buildUpdateBody,
  decodeJwtUnverified,
  generateClientKeyPair,
  looksLikeEpicRegistration,
  publicJwks,
  registerClient,
  signClientAssertion,
  signSoftwareStatement,
  type JsonWebKeyLike,
} from './index';
import { captureError } from './test-support';

const LAST = {
  client_id: 'abc',
  client_name: 'Registrar',
  redirect_uris: ['https://app.example.com/cb'],
  grant_types: ['authorization_code'],
  scope: 'openid',
  logo_uri: 'https://app.example.com/logo.png',
  x_vendor: { nested: true },
  registration_access_token: 'rat',
  registration_client_uri: 'https://as.example.com/reg/abc',
  client_secret_expires_at: 123,
  client_id_issued_at: 100,
  client_secret: 's3cr3t',
};

describe('buildUpdateBody (RFC 7592 §2.2)', () => {
  it('sends every field of the last response with the changes, plus client_id, and none of the server-managed fields or the secret', () => {
    const body = buildUpdateBody(LAST, { client_name: 'Renamed', contacts: ['ops@example.com'] });
    expect(body).toEqual({
      client_id: 'abc',
      client_name: 'Renamed',
      redirect_uris: ['https://app.example.com/cb'],
      grant_types: ['authorization_code'],
      scope: 'openid',
      logo_uri: 'https://app.example.com/logo.png',
      x_vendor: { nested: true },
      contacts: ['ops@example.com'],
    });
    for (const field of ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at', 'client_secret']) {
      expect(body).not.toHaveProperty(field);
    }
    expect(LAST.client_name).toBe('Registrar');
  });

  it('removes a field changed to null or undefined (which deletes it upstream)', () => {
    const body = buildUpdateBody(LAST, { logo_uri: null, scope: undefined });
    expect(body).not.toHaveProperty('logo_uri');
    expect(body).not.toHaveProperty('scope');
    expect(body.client_name).toBe('Registrar');
  });

  it('refuses changes to server-managed fields, the secret or the client_id, and a last response without client_id', () => {
    for (const field of ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at', 'client_secret']) {
      expect(() => buildUpdateBody(LAST, { [field]: 'x' }), field).toThrow(AppError);
    }
    expect(() => buildUpdateBody(LAST, { client_id: 'other' })).toThrow(/client_id cannot be changed/);
    expect(buildUpdateBody(LAST, { client_id: 'abc' }).client_id).toBe('abc');
    expect(() => buildUpdateBody({ client_name: 'x' }, {})).toThrow(/no client_id/);
  });

  describe('with the software statement the server echoed (RFC 7591 §3.2.1)', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const statement = `${b64({ alg: 'ES384' })}.${b64({ iss: 'vendor', iat: 1, software_id: 'app', redirect_uris: ['https://a.example.com/cb'], client_name: 'Registrar' })}.c2ln`;
    const last = { client_id: 'abc', client_name: 'Registrar', redirect_uris: ['https://a.example.com/cb'], software_id: 'app', software_statement: statement };

    it('sends it back when the change leaves its claims alone (RFC 7592 §2.2: every field of the last response)', () => {
      expect(buildUpdateBody(last, { contacts: ['ops@example.com'] }).software_statement).toBe(statement);
      expect(buildUpdateBody(last, { client_name: 'Registrar' }).software_statement).toBe(statement);
    });

    it('leaves it out when the change sets one of its claims to another value or removes it: its claims would win (§2.3)', () => {
      const moved = buildUpdateBody(last, { redirect_uris: ['https://b.example.com/cb'] });
      expect(moved).not.toHaveProperty('software_statement');
      expect(moved.redirect_uris).toEqual(['https://b.example.com/cb']);
      expect(buildUpdateBody(last, { client_name: null })).not.toHaveProperty('software_statement');
      // Registered JWT claims (iss, iat) are not metadata: changing a member of that name does not count.
      expect(buildUpdateBody(last, { iss: 'x' }).software_statement).toBe(statement);
    });

    it('so an answer that keeps the old value is reported as a substitution, not as the change', async () => {
      const body = buildUpdateBody(last, { redirect_uris: ['https://b.example.com/cb'] });
      const { readClientInformation } = await import('./response');
      const answer = readClientInformation({ op: 'update', endpoint: 'https://as.example.com/reg/abc', status: 200, text: JSON.stringify(last), requested: body, current: { registrationAccessToken: 'rat', registrationClientUri: 'https://as.example.com/reg/abc' } });
      expect(answer.warnings).toContainEqual(expect.objectContaining({ code: 'METADATA_SUBSTITUTED', field: 'redirect_uris' }));
    });
  });
});

describe('keys', () => {
  for (const alg of ['RS384', 'ES384'] as const) {
    it(`generates a ${alg} pair whose kid is the RFC 7638 thumbprint and whose public JWK has no private member`, async () => {
      const pair = await generateClientKeyPair(alg);
      expect(pair.alg).toBe(alg);
      expect(pair.kid).toBe(await calculateJwkThumbprint(pair.publicJwk as Parameters<typeof calculateJwkThumbprint>[0], 'sha256'));
      expect(pair.publicJwk).toMatchObject({ kid: pair.kid, alg, use: 'sig', kty: alg === 'RS384' ? 'RSA' : 'EC' });
      expect(Object.keys(pair.publicJwk).sort()).toEqual(alg === 'RS384' ? ['alg', 'e', 'kid', 'kty', 'n', 'use'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(pair.privateKeyPkcs8Pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    });
  }

  it('publicJwks strips private members and refuses keys without kty or kid, and symmetric keys', async () => {
    const { privateKey } = await generateKeyPair('RS384', { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'RS384' } as JsonWebKeyLike;
    expect(priv.d).toEqual(expect.any(String));
    const jwks = publicJwks([priv]);
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n']);
    await expect(importJWK(jwks.keys[0] as Parameters<typeof importJWK>[0], 'RS384')).resolves.toBeDefined();

    expect(() => publicJwks([{ ...priv, kid: undefined } as JsonWebKeyLike])).toThrow(/no kid/);
    expect(() => publicJwks([{ ...priv, kty: '' }])).toThrow(/no kty/);
    expect(() => publicJwks([{ kty: 'oct', kid: 'h', k: 'c2VjcmV0' }])).toThrow(/only RSA, EC and OKP/);
    expect(() => publicJwks([])).toThrow(AppError);
  });
});

describe('Epic', () => {
  it('builds exactly {software_id, jwks} and refuses any private member in any key', async () => {
    const pair = await generateClientKeyPair('ES384');
    const body = buildEpicRegistrationBody(' epic-client-id ', { keys: [pair.publicJwk] });
    expect(body).toEqual({ software_id: 'epic-client-id', jwks: { keys: [pair.publicJwk] } });
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
      const error = await captureError(async () => buildEpicRegistrationBody('id', { keys: [pair.publicJwk, { ...pair.publicJwk, [member]: 'AQAB' }] }));
      expect(error.code, member).toBe('INVALID');
      expect(error.message).toContain(`jwks.keys[1] contains private key material (${member})`);
      expect(error.serialized).not.toContain('AQAB');
    }
    expect(() => buildEpicRegistrationBody('', { keys: [pair.publicJwk] })).toThrow(/software_id/);
    expect(() => buildEpicRegistrationBody('id', { keys: [] })).toThrow(/at least one/);
    expect(() => buildEpicRegistrationBody('id', { keys: [{ ...pair.publicJwk, kid: '' }] })).toThrow(/no kid/);
  });

  it('recognises Epic endpoint layouts and nothing else', () => {
    expect(
      looksLikeEpicRegistration({
        fhirBaseUrl: 'https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4',
        registrationEndpoint: 'https://fhir.epic.com/interconnect-fhir-oauth/oauth2/register',
      }),
    ).toBe(true);
    expect(looksLikeEpicRegistration({ registrationEndpoint: 'https://ehr.hospital.org/Interconnect-Oauth2-PRD/oauth2/register' })).toBe(true);
    expect(looksLikeEpicRegistration({ fhirBaseUrl: 'http://127.0.0.1:4403/api/FHIR/R4', registrationEndpoint: 'http://127.0.0.1:4403/oauth2/register' })).toBe(true);
    // Same layout on another origin, a different prefix, or another server's paths: not Epic.
    expect(looksLikeEpicRegistration({ fhirBaseUrl: 'https://other.example.com/api/FHIR/R4', registrationEndpoint: 'https://ehr.example.com/oauth2/register' })).toBe(false);
    expect(looksLikeEpicRegistration({ fhirBaseUrl: 'https://ehr.example.com/a/api/FHIR/R4', registrationEndpoint: 'https://ehr.example.com/b/oauth2/register' })).toBe(false);
    expect(looksLikeEpicRegistration({ fhirBaseUrl: 'http://127.0.0.1:4401/fhir', registrationEndpoint: 'http://127.0.0.1:4401/reg' })).toBe(false);
    expect(looksLikeEpicRegistration({ registrationEndpoint: 'https://keycloak.example.com/realms/x/clients-registrations/openid-connect' })).toBe(false);
    expect(looksLikeEpicRegistration({ registrationEndpoint: 'https://as.example.com/oauth2/register' })).toBe(false);
    expect(looksLikeEpicRegistration({ registrationEndpoint: 'not a url' })).toBe(false);
  });
});

describe('signed JWTs', () => {
  it('signs an RFC 7523 client assertion: iss = sub = client_id, aud = token endpoint, exp within 5 minutes, unique short jti', async () => {
    for (const alg of ['RS384', 'ES384'] as const) {
      const pair = await generateClientKeyPair(alg);
      const key = await importJWK(pair.publicJwk as Parameters<typeof importJWK>[0], alg);
      const input = { clientId: 'client-1', tokenEndpoint: 'https://as.example.com/token', privateKeyPkcs8Pem: pair.privateKeyPkcs8Pem, alg, kid: pair.kid };
      const [a, b] = await Promise.all([signClientAssertion(input), signClientAssertion(input)]);
      const { payload, protectedHeader } = await jwtVerify(a, key, { issuer: 'client-1', subject: 'client-1', audience: 'https://as.example.com/token' });
      expect(protectedHeader).toMatchObject({ alg, kid: pair.kid, typ: 'JWT' });
      const now = Math.floor(Date.now() / 1000);
      expect(payload.exp! - now).toBeLessThanOrEqual(300);
      expect(payload.exp! - now).toBeGreaterThan(60);
      expect(String(payload.jti).length).toBeLessThanOrEqual(151);
      expect(decodeJwt(b).jti).not.toBe(payload.jti);
    }
  });

  it('refuses a key of the wrong type without quoting it', async () => {
    const ec = await generateClientKeyPair('ES384');
    const error = await captureError(() =>
      signClientAssertion({ clientId: 'c', tokenEndpoint: 'https://as.example.com/token', privateKeyPkcs8Pem: ec.privateKeyPkcs8Pem, alg: 'RS384', kid: ec.kid }),
    );
    expect(error.code).toBe('INVALID');
    expect(error.serialized).not.toContain(ec.privateKeyPkcs8Pem.split('\n')[1]!);
  });

  it('signs an RFC 7591 §2.3 software statement carrying the metadata and an iss; decodeJwtUnverified shows it', async () => {
    const pair = await generateClientKeyPair('ES384');
    const jwt = await signSoftwareStatement({
      metadata: { software_id: 'registrar', client_name: 'Registrar', redirect_uris: ['https://app.example.com/cb'] },
      issuer: 'https://registrar.example.com',
      privateKeyPkcs8Pem: pair.privateKeyPkcs8Pem,
      alg: 'ES384',
      kid: pair.kid,
      expiresInSeconds: 3600,
    });
    const { payload } = await jwtVerify(jwt, await importJWK(pair.publicJwk as Parameters<typeof importJWK>[0], 'ES384'), { issuer: 'https://registrar.example.com' });
    expect(payload).toMatchObject({ software_id: 'registrar', client_name: 'Registrar', redirect_uris: ['https://app.example.com/cb'] });
    expect(payload.exp! - payload.iat!).toBe(3600);
    const decoded = decodeJwtUnverified(jwt);
    expect(decoded.header).toEqual({ alg: 'ES384', kid: pair.kid, typ: 'JWT' });
    expect(decoded.payload).toEqual(payload);

    await expect(
      signSoftwareStatement({ metadata: { exp: 1 }, issuer: 'x', privateKeyPkcs8Pem: pair.privateKeyPkcs8Pem, alg: 'ES384', kid: pair.kid }),
    ).rejects.toThrow(/must not set exp/);
    expect(() => decodeJwtUnverified('not.a.jwt')).toThrow(AppError);
  });
});

describe('request checks before anything is sent', () => {
  it('refuses private key material in jwks, and jwks together with jwks_uri', async () => {
    // An unroutable endpoint: reaching the network would give a different error.
    const endpoint = 'https://registration.invalid/reg';
    const leak = await captureError(() => registerClient({ registrationEndpoint: endpoint, metadata: { jwks: { keys: [{ kty: 'EC', kid: 'k', d: 'PRIVATE' }] } } }));
    expect(leak.code).toBe('INVALID');
    expect(leak.serialized).not.toContain('PRIVATE');
    const both = await captureError(() => registerClient({ registrationEndpoint: endpoint, metadata: { jwks: { keys: [] }, jwks_uri: 'https://x/jwks' } }));
    expect(both.code).toBe('INVALID');
  });
});

describe('error helpers', () => {
  it('classifies transport failures by whether the request may have been sent', () => {
    const cases: Array<[AppError, string, boolean]> = [
      [new AppError('TIMEOUT', 't', { phase: 'connect' }), 'TIMEOUT', false],
      [new AppError('TIMEOUT', 't', { phase: 'headers' }), 'TIMEOUT', true],
      [new AppError('TIMEOUT', 't', { phase: 'total' }), 'TIMEOUT', true],
      [new AppError('DNS_FAILURE', 'd', { cause: 'ENOTFOUND' }), 'UPSTREAM_UNREACHABLE', false],
      [new AppError('CONNECTION_FAILED', 'c', { cause: 'ECONNREFUSED' }), 'UPSTREAM_UNREACHABLE', false],
      [new AppError('CONNECTION_FAILED', 'c', { cause: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'UPSTREAM_UNREACHABLE', false],
      [new AppError('CONNECTION_FAILED', 'c', { cause: 'ECONNRESET' }), 'UPSTREAM_UNREACHABLE', true],
      [new AppError('CONNECTION_FAILED', 'c', { cause: 'UND_ERR_SOCKET' }), 'UPSTREAM_UNREACHABLE', true],
      [new AppError('BLOCKED_ADDRESS', 'b'), 'BLOCKED_ADDRESS', false],
      [new AppError('TOO_LARGE', 'l'), 'TOO_LARGE', true],
    ];
    for (const [error, code, outcomeUnknown] of cases) {
      expect(classifyTransportFailure(error), `${error.code} ${JSON.stringify(error.details)}`).toMatchObject({ code, outcomeUnknown });
    }
  });

  it('parses the Bearer challenge among others, quoted or not', () => {
    expect(parseBearerChallenge('Bearer realm="x", error="invalid_token", error_description="a \\"b\\", c"')).toEqual({
      error: 'invalid_token',
      errorDescription: 'a "b", c',
    });
    expect(parseBearerChallenge('DPoP algs="ES256", Bearer error=invalid_token')).toEqual({ error: 'invalid_token' });
    expect(parseBearerChallenge('Bearer realm="x", DPoP error="use_dpop_nonce"')).toEqual({});
    expect(parseBearerChallenge('Basic realm="x"')).toBeNull();
    expect(parseBearerChallenge(null)).toBeNull();
  });

  it('takes the first line of text from HTML, without scripts, styles or entities, capped at 200 characters', () => {
    expect(firstLineOfText('<html><head><style>p{}</style><script>var a="<p>x</p>";</script></head><body>\n\n<h1>Bad &amp; worse&#33;</h1><p>more</p>')).toBe('Bad & worse!');
    expect(firstLineOfText('plain text\nsecond line')).toBe('plain text');
    expect(firstLineOfText('')).toBe('');
    expect(firstLineOfText('y'.repeat(300))).toHaveLength(200);
  });

  it('finds the metadata field an invalid_client_metadata description is about only when obvious', () => {
    expect(fieldFromDescription('redirect_uris must use https')).toBe('redirect_uris');
    expect(fieldFromDescription('the provided jwks_uri is unreachable')).toBe('jwks_uri');
    expect(fieldFromDescription('jwks and jwks_uri are mutually exclusive')).toBe('jwks');
    expect(fieldFromDescription('either jwks or jwks_uri is required')).toBeUndefined();
    expect(fieldFromDescription('something went wrong')).toBeUndefined();
    expect(fieldFromDescription(undefined)).toBeUndefined();
  });
});
