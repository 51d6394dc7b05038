import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index';
import { bearer, getJson, makeKey, oauthUris, postForm, sendJson, type TestKey } from './test-support';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let sandbox: Sandbox;
const logs: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ log: (line) => logs.push(line) });
});
afterAll(async () => {
  await sandbox?.stop();
  expect(logs).toEqual([]);
});

const tokenEndpoint = () => `${sandbox.epic.issuer}/token`;

async function registerEpic(key: TestKey, softwareId = 'epic-app-1234') {
  const iat = await sandbox.mintInitialAccessToken('epic');
  return sendJson('POST', sandbox.epic.registrationEndpoint, { software_id: softwareId, jwks: { keys: [key.publicJwk] } }, bearer(iat));
}

function jwtBearerAssertion(key: TestKey, clientId: string, jti: string = randomUUID()) {
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(tokenEndpoint())
    .setJti(jti)
    .setExpirationTime('4m')
    .sign(key.privateKey);
}

describe('Epic-like discovery', () => {
  it('lists register in /metadata only when Epic-Client-ID is sent', async () => {
    const plain = await getJson(`${sandbox.epic.fhirBase}/metadata`, { accept: 'application/fhir+json' });
    expect(plain.status).toBe(200);
    expect(plain.body.resourceType).toBe('CapabilityStatement');
    const plainUris = oauthUris(plain.body);
    expect(plainUris.authorize).toBe(`${sandbox.epic.issuer}/authorize`);
    expect(plainUris.token).toBe(`${sandbox.epic.issuer}/token`);
    expect(plainUris.register).toBeUndefined();

    const named = await getJson(`${sandbox.epic.fhirBase}/metadata`, { accept: 'application/fhir+json', 'Epic-Client-ID': 'epic-app-1234' });
    expect(oauthUris(named.body).register).toBe(sandbox.epic.registrationEndpoint);
  });

  it('omits registration_endpoint from the SMART configuration unless Epic-Client-ID is sent', async () => {
    const plain = await getJson(`${sandbox.epic.fhirBase}/.well-known/smart-configuration`);
    expect(plain.status).toBe(200);
    expect(plain.body.token_endpoint).toBe(tokenEndpoint());
    expect(plain.body.code_challenge_methods_supported).toEqual(['S256']);
    expect(plain.body).not.toHaveProperty('registration_endpoint');
    const named = await getJson(`${sandbox.epic.fhirBase}/.well-known/smart-configuration`, { 'Epic-Client-ID': 'epic-app-1234' });
    expect(named.body.registration_endpoint).toBe(sandbox.epic.registrationEndpoint);
  });

  it('serves OAuth under /oauth2 with a matching issuer', async () => {
    expect(sandbox.epic.issuer).toBe(`${sandbox.epic.origin}/oauth2`);
    const oidc = await getJson(`${sandbox.epic.issuer}/.well-known/openid-configuration`);
    expect(oidc.status).toBe(200);
    expect(oidc.body.issuer).toBe(sandbox.epic.issuer);
    expect(oidc.body.authorization_endpoint).toBe(`${sandbox.epic.issuer}/authorize`);
    expect(oidc.body.token_endpoint).toBe(tokenEndpoint());
    const rfc8414 = await getJson(`${sandbox.epic.origin}/.well-known/oauth-authorization-server/oauth2`);
    expect(rfc8414.body.issuer).toBe(sandbox.epic.issuer);
    const authorize = await fetch(`${sandbox.epic.issuer}/authorize`);
    expect(authorize.status).toBe(200);
    await authorize.body?.cancel();
  });
});

describe('Epic-like registration', () => {
  it('requires a bearer initial access token', async () => {
    const key = await makeKey('RS384');
    const res = await sendJson('POST', sandbox.epic.registrationEndpoint, { software_id: 'x', jwks: { keys: [key.publicJwk] } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const bad = await sendJson('POST', sandbox.epic.registrationEndpoint, { software_id: 'x', jwks: { keys: [key.publicJwk] } }, bearer('made-up'));
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses any member besides software_id and jwks with invalid_client_metadata', async () => {
    const key = await makeKey('RS384');
    const iat = await sandbox.mintInitialAccessToken('epic');
    const res = await sendJson(
      'POST',
      sandbox.epic.registrationEndpoint,
      { software_id: 'epic-app-1234', jwks: { keys: [key.publicJwk] }, redirect_uris: ['https://app.example.com/cb'] },
      bearer(iat),
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
    expect(res.body.error_description).toContain('redirect_uris');
  });

  it('refuses private key material, keys without kid, and symmetric keys', async () => {
    const iat = await sandbox.mintInitialAccessToken('epic', { uses: 5 });
    const { privateKey } = await generateKeyPair('RS384', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'k1' };
    const key = await makeKey('ES384');
    const { kid: _kid, ...withoutKid } = key.publicJwk;
    const cases = [
      { keys: [privateJwk] },
      { keys: [withoutKid] },
      { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'sym' }] },
      { keys: [] },
    ];
    for (const jwks of cases) {
      const res = await sendJson('POST', sandbox.epic.registrationEndpoint, { software_id: 'epic-app-1234', jwks }, bearer(iat));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client_metadata');
    }
    // None of the refusals spent a use.
    const ok = await sendJson('POST', sandbox.epic.registrationEndpoint, { software_id: 'epic-app-1234', jwks: { keys: [key.publicJwk] } }, bearer(iat));
    expect(ok.status).toBe(201);
  });

  it('answers 201 with a G… client_id, no secret, no registration_client_uri and no RAT', async () => {
    const key = await makeKey('RS384');
    const before = Math.floor(Date.now() / 1000);
    const res = await registerEpic(key);
    expect(res.status).toBe(201);
    expect(res.body.client_id).toMatch(/^G[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    expect(res.body.software_id).toBe('epic-app-1234');
    expect(res.body.jwks).toEqual({ keys: [key.publicJwk] });
    expect(res.body.token_endpoint_auth_method).toBe('none');
    expect(res.body.grant_types).toEqual([JWT_BEARER]);
    expect(Number(res.body.client_id_issued_at)).toBeGreaterThanOrEqual(before);
    for (const absent of ['client_secret', 'client_secret_expires_at', 'registration_client_uri', 'registration_access_token']) {
      expect(res.body).not.toHaveProperty(absent);
    }
  });

  it('refuses a spent initial access token with 401', async () => {
    const key = await makeKey('ES384');
    const iat = await sandbox.mintInitialAccessToken('epic');
    const body = { software_id: 'epic-app-1234', jwks: { keys: [key.publicJwk] } };
    expect((await sendJson('POST', sandbox.epic.registrationEndpoint, body, bearer(iat))).status).toBe(201);
    const again = await sendJson('POST', sandbox.epic.registrationEndpoint, body, bearer(iat));
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});

describe('Epic-like token endpoint (RFC 7523 jwt-bearer)', () => {
  it('issues a token for an assertion signed with the registered key, once per jti', async () => {
    const key = await makeKey('ES384');
    const reg = await registerEpic(key);
    const clientId = String(reg.body.client_id);
    const jti = randomUUID();
    const assertion = await jwtBearerAssertion(key, clientId, jti);
    const ok = await postForm(tokenEndpoint(), { grant_type: JWT_BEARER, assertion, scope: 'patient/Patient.read' });
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('Bearer');
    expect(ok.body.access_token).toEqual(expect.any(String));

    const replay = await postForm(tokenEndpoint(), { grant_type: JWT_BEARER, assertion: await jwtBearerAssertion(key, clientId, jti) });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('refuses an assertion signed with another key', async () => {
    const key = await makeKey('RS384');
    const reg = await registerEpic(key);
    const other = await makeKey('RS384');
    const forged = await jwtBearerAssertion({ ...other, kid: key.kid }, String(reg.body.client_id));
    const res = await postForm(tokenEndpoint(), { grant_type: JWT_BEARER, assertion: forged });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });
});
