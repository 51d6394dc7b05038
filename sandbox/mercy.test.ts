import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index';
import { bearer, clientAssertion, getJson, makeKey, oauthUris, postForm, sendJson, serveJwks, sleep } from './test-support';

let sandbox: Sandbox;
const logs: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ log: (line) => logs.push(line) });
});
afterAll(async () => {
  await sandbox?.stop();
  expect(logs).toEqual([]);
});

const tokenEndpoint = () => `${sandbox.mercy.origin}/token`;

function backendClient(extra: Record<string, unknown>) {
  return {
    client_name: 'Registrar backend',
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'system/*.rs system/Patient.rs',
    ...extra,
  };
}

describe('Mercy Health discovery', () => {
  it('advertises asymmetric client auth with RS384/ES384 and SMART v2 permissions only', async () => {
    const { status, body } = await getJson(`${sandbox.mercy.fhirBase}/.well-known/smart-configuration`);
    expect(status).toBe(200);
    expect(body.registration_endpoint).toBe(sandbox.mercy.registrationEndpoint);
    expect(body.capabilities).toContain('client-confidential-asymmetric');
    expect(body.capabilities).toContain('permission-v2');
    expect(body.capabilities).not.toContain('permission-v1');
    expect(body.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS384', 'ES384']);
    expect(body.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(body.scopes_supported).toContain('patient/*.rs');
    expect(body.scopes_supported).not.toContain('patient/*.read');

    const oidc = await getJson(`${sandbox.mercy.issuer}/.well-known/openid-configuration`);
    expect(oidc.body.issuer).toBe(sandbox.mercy.issuer);
    expect(oidc.body.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS384', 'ES384']);

    const metadata = await getJson(`${sandbox.mercy.fhirBase}/metadata`);
    expect(oauthUris(metadata.body).register).toBe(sandbox.mercy.registrationEndpoint);
  });
});

describe('Mercy Health initial access tokens', () => {
  it('refuses registration without an initial access token: 401 with a Bearer challenge', async () => {
    const res = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://app.example.com/cb'] });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect(res.body.error).toBe('invalid_token');
  });

  it('mints tokens only for the admin token, with the 1 hour default', async () => {
    const url = `${sandbox.mercy.origin}/sandbox/initial-access-tokens`;
    const anonymous = await sendJson('POST', url, {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await sendJson('POST', url, {}, bearer('nope'));
    expect(wrong.status).toBe(401);
    const bad = await sendJson('POST', url, { uses: 0 }, bearer(sandbox.adminToken));
    expect(bad.status).toBe(400);

    const now = Math.floor(Date.now() / 1000);
    const minted = await sendJson('POST', url, {}, bearer(sandbox.adminToken));
    expect(minted.status).toBe(201);
    expect(minted.body.token).toEqual(expect.any(String));
    expect(Number(minted.body.expiresAt)).toBeGreaterThanOrEqual(now + 3600);
    expect(Number(minted.body.expiresAt)).toBeLessThanOrEqual(now + 3602);

    const reg = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://app.example.com/cb'] }, bearer(String(minted.body.token)));
    expect(reg.status).toBe(201);
  });

  it('refuses a spent token with 401 invalid_token and a WWW-Authenticate challenge', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy');
    const first = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://app.example.com/cb'] }, bearer(iat));
    expect(first.status).toBe(201);
    const second = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://app.example.com/cb'] }, bearer(iat));
    expect(second.status).toBe(401);
    expect(second.body.error).toBe('invalid_token');
    expect(second.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it('counts uses, and a refused registration does not spend one', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy', { uses: 2 });
    const refused = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://evil.example.net/cb'] }, bearer(iat));
    expect(refused.status).toBe(400);
    for (let i = 0; i < 2; i += 1) {
      const ok = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://app.example.com/cb'] }, bearer(iat));
      expect(ok.status).toBe(201);
    }
    const spent = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://app.example.com/cb'] }, bearer(iat));
    expect(spent.status).toBe(401);
  });

  it('refuses an expired token with 401', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy', { expiresInSeconds: 1, uses: 5 });
    await sleep(1_300);
    const res = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://app.example.com/cb'] }, bearer(iat));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });
});

describe('Mercy Health registration rules', () => {
  it('refuses a redirect URI on an untrusted host with invalid_redirect_uri and a description', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy');
    const res = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['https://portal.vendor.example/cb'] }, bearer(iat));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_redirect_uri');
    expect(res.body.error_description).toContain('https://portal.vendor.example/cb');
  });

  it('accepts trusted hosts and loopback IPs but not localhost', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy', { uses: 2 });
    const ok = await sendJson(
      'POST',
      sandbox.mercy.registrationEndpoint,
      { redirect_uris: ['https://app.example.com/cb', 'http://127.0.0.1:7000/cb', 'http://[::1]/cb'] },
      bearer(iat),
    );
    expect(ok.status).toBe(201);
    const localhost = await sendJson('POST', sandbox.mercy.registrationEndpoint, { redirect_uris: ['http://localhost:7000/cb'] }, bearer(iat));
    expect(localhost.status).toBe(400);
    expect(localhost.body.error).toBe('invalid_redirect_uri');
  });

  it('refuses SMART v1 scopes with invalid_client_metadata', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy');
    const res = await sendJson(
      'POST',
      sandbox.mercy.registrationEndpoint,
      { redirect_uris: ['https://app.example.com/cb'], scope: 'launch/patient patient/*.read' },
      bearer(iat),
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
    expect(res.body.error_description).toContain('patient/*.read');
  });
});

describe('Mercy Health private_key_jwt', () => {
  it('registers an ES384 key inline and issues a client_credentials token for a jose-signed assertion', async () => {
    const key = await makeKey('ES384');
    const iat = await sandbox.mintInitialAccessToken('mercy');
    const reg = await sendJson('POST', sandbox.mercy.registrationEndpoint, backendClient({ jwks: { keys: [key.publicJwk] } }), bearer(iat));
    expect(reg.status).toBe(201);
    expect(reg.body.client_secret).toBeUndefined();
    expect(reg.body.token_endpoint_auth_method).toBe('private_key_jwt');
    const clientId = String(reg.body.client_id);

    const token = await postForm(tokenEndpoint(), {
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(key, clientId, tokenEndpoint()),
    });
    expect(token.status).toBe(200);
    expect(token.body.access_token).toEqual(expect.any(String));
    expect(token.body.scope).toBe('system/Patient.rs');
  });

  it('refuses an assertion signed with an algorithm outside RS384/ES384', async () => {
    const key = await makeKey('ES384');
    const iat = await sandbox.mintInitialAccessToken('mercy');
    const reg = await sendJson('POST', sandbox.mercy.registrationEndpoint, backendClient({ jwks: { keys: [key.publicJwk] } }), bearer(iat));
    expect(reg.status).toBe(201);
    // Same client, but an ES256 assertion: the server enables RS384/ES384 only.
    const p256 = await generateKeyPair('ES256');
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(String(reg.body.client_id))
      .setSubject(String(reg.body.client_id))
      .setAudience(tokenEndpoint())
      .setJti(randomUUID())
      .setExpirationTime('2m')
      .sign(p256.privateKey);
    const token = await postForm(tokenEndpoint(), {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    expect(token.status).toBe(401);
    expect(token.body.error).toBe('invalid_client');
  });

  it('fetches an RS384 key from a jwks_uri on loopback', async () => {
    const key = await makeKey('RS384');
    const jwks = await serveJwks({ keys: [key.publicJwk] });
    try {
      const iat = await sandbox.mintInitialAccessToken('mercy');
      const reg = await sendJson('POST', sandbox.mercy.registrationEndpoint, backendClient({ jwks_uri: jwks.url }), bearer(iat));
      expect(reg.status).toBe(201);
      expect(reg.body.jwks_uri).toBe(jwks.url);
      const clientId = String(reg.body.client_id);
      const token = await postForm(tokenEndpoint(), {
        grant_type: 'client_credentials',
        scope: 'system/*.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion(key, clientId, tokenEndpoint()),
      });
      expect(token.status).toBe(200);
      expect(token.body.access_token).toEqual(expect.any(String));
      expect(jwks.hits()).toBeGreaterThan(0);
    } finally {
      await jwks.close();
    }
  });
});
