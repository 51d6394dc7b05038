import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index';
import { basicAuth, bearer, getJson, oauthUris, postForm, sendJson, sleep } from './test-support';

const THIRTY_DAYS = 30 * 24 * 3600;
const FORBIDDEN_IN_PUT = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at'];

let sandbox: Sandbox;
const logs: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ log: (line) => logs.push(line) });
});
afterAll(async () => {
  await sandbox?.stop();
  expect(logs).toEqual([]);
});

async function registerConfidential(extra: Record<string, unknown> = {}) {
  const res = await sendJson('POST', sandbox.general.registrationEndpoint, {
    client_name: 'Registrar test',
    redirect_uris: ['https://app.example.com/callback'],
    grant_types: ['authorization_code', 'client_credentials'],
    scope: 'openid fhirUser launch/patient system/*.rs patient/*.read',
    software_id: 'registrar',
    software_version: '1.2.3',
    ...extra,
  });
  expect(res.status).toBe(201);
  return res.body as Record<string, unknown> & {
    client_id: string;
    client_secret: string;
    client_secret_expires_at: number;
    client_id_issued_at: number;
    registration_access_token: string;
    registration_client_uri: string;
  };
}

describe('General Hospital discovery', () => {
  it('publishes OIDC discovery whose issuer is the issuer asked for, with the registration endpoint', async () => {
    const { status, body } = await getJson(`${sandbox.general.issuer}/.well-known/openid-configuration`);
    expect(status).toBe(200);
    expect(body.issuer).toBe(sandbox.general.issuer);
    expect(body.registration_endpoint).toBe(sandbox.general.registrationEndpoint);
    expect(body.grant_types_supported).toContain('client_credentials');
    expect(body.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']),
    );
  });

  it('publishes a SMART 2.2 configuration under the FHIR base', async () => {
    const { status, body } = await getJson(`${sandbox.general.fhirBase}/.well-known/smart-configuration`);
    expect(status).toBe(200);
    expect(body.issuer).toBe(sandbox.general.issuer);
    expect(body.registration_endpoint).toBe(sandbox.general.registrationEndpoint);
    expect(body.token_endpoint).toBe(`${sandbox.general.origin}/token`);
    expect(body.authorization_endpoint).toBe(`${sandbox.general.origin}/auth`);
    expect(body.jwks_uri).toBe(`${sandbox.general.origin}/jwks`);
    expect(body.code_challenge_methods_supported).toEqual(['S256']);
    expect(body.capabilities).toEqual(
      expect.arrayContaining([
        'launch-ehr',
        'launch-standalone',
        'client-public',
        'client-confidential-symmetric',
        'sso-openid-connect',
        'permission-v1',
        'permission-v2',
      ]),
    );
    expect(body.scopes_supported).toEqual(
      expect.arrayContaining([
        'openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access',
        'patient/*.read', 'patient/*.rs', 'patient/Patient.read', 'patient/Patient.rs',
        'patient/Observation.read', 'patient/Observation.rs', 'user/*.read', 'user/*.rs',
        'system/*.read', 'system/*.rs', 'system/Patient.rs',
      ]),
    );
    expect(body.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials']));
  });

  it('publishes a FHIR CapabilityStatement with the SMART oauth-uris extension', async () => {
    const { status, headers, body } = await getJson(`${sandbox.general.fhirBase}/metadata`, { accept: 'application/fhir+json' });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toContain('application/fhir+json');
    expect(body.resourceType).toBe('CapabilityStatement');
    expect(body.fhirVersion).toBe('4.0.1');
    const uris = oauthUris(body);
    expect(uris.authorize).toBe(`${sandbox.general.origin}/auth`);
    expect(uris.token).toBe(`${sandbox.general.origin}/token`);
    expect(uris.register).toBe(sandbox.general.registrationEndpoint);
  });
});

describe('General Hospital registration (RFC 7591/7592)', () => {
  it('registers openly and announces a secret expiring after 30 days by default', async () => {
    const before = Math.floor(Date.now() / 1000);
    const client = await registerConfidential();
    expect(client.client_secret).toEqual(expect.any(String));
    expect(client.software_id).toBe('registrar');
    expect(client.software_version).toBe('1.2.3');
    expect(client.client_id_issued_at).toBeGreaterThanOrEqual(before);
    expect(client.client_secret_expires_at).toBe(client.client_id_issued_at + THIRTY_DAYS);
    expect(client.registration_client_uri).toBe(`${sandbox.general.registrationEndpoint}/${client.client_id}`);
  });

  it('reads a registration with its RAT and refuses a wrong RAT with 401', async () => {
    const client = await registerConfidential();
    const read = await sendJson('GET', client.registration_client_uri, undefined, bearer(client.registration_access_token));
    expect(read.status).toBe(200);
    expect(read.body.client_id).toBe(client.client_id);
    expect(read.body.client_secret).toBe(client.client_secret);
    const wrong = await sendJson('GET', client.registration_client_uri, undefined, bearer('not-a-rat'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('rotates the RAT on every update; the old RAT then gets 401', async () => {
    const client = await registerConfidential();
    const update = Object.fromEntries(Object.entries(client).filter(([k]) => !FORBIDDEN_IN_PUT.includes(k)));
    update.client_name = 'Registrar test (renamed)';
    const put = await sendJson('PUT', client.registration_client_uri, update, bearer(client.registration_access_token));
    expect(put.status).toBe(200);
    expect(put.body.client_name).toBe('Registrar test (renamed)');
    expect(put.body.client_secret).toBe(client.client_secret);
    expect(put.body.client_secret_expires_at).toBe(client.client_secret_expires_at);
    const newRat = put.body.registration_access_token;
    expect(newRat).toEqual(expect.any(String));
    expect(newRat).not.toBe(client.registration_access_token);

    const old = await sendJson('GET', client.registration_client_uri, undefined, bearer(client.registration_access_token));
    expect(old.status).toBe(401);
    const current = await sendJson('GET', client.registration_client_uri, undefined, bearer(String(newRat)));
    expect(current.status).toBe(200);
    expect(current.body.client_name).toBe('Registrar test (renamed)');
  });

  it('deletes a registration with 204, after which its RAT gets 401', async () => {
    const client = await registerConfidential();
    const del = await fetch(client.registration_client_uri, { method: 'DELETE', headers: bearer(client.registration_access_token) });
    expect(del.status).toBe(204);
    const after = await sendJson('GET', client.registration_client_uri, undefined, bearer(client.registration_access_token));
    expect(after.status).toBe(401);
    const token = await postForm(`${sandbox.general.origin}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.client_id, client.client_secret) });
    expect(token.status).toBe(401);
  });

  it('refuses a scope outside the supported set with invalid_client_metadata', async () => {
    const res = await sendJson('POST', sandbox.general.registrationEndpoint, {
      redirect_uris: ['https://app.example.com/callback'],
      scope: 'patient/*.read patient/Spaceship.read',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
  });

  it('accepts https and http loopback redirect URIs, and refuses http elsewhere with invalid_redirect_uri', async () => {
    const ok = await sendJson('POST', sandbox.general.registrationEndpoint, {
      redirect_uris: ['https://app.example.com/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb'],
      token_endpoint_auth_method: 'none',
    });
    expect(ok.status).toBe(201);
    expect(ok.body.client_secret).toBeUndefined();
    expect(ok.body.client_secret_expires_at).toBeUndefined();

    const bad = await sendJson('POST', sandbox.general.registrationEndpoint, {
      redirect_uris: ['http://app.example.com/cb'],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_redirect_uri');
    expect(bad.body.error_description).toContain('http://app.example.com/cb');
  });
});

describe('General Hospital token endpoint', () => {
  it('issues a client_credentials token for the FHIR API with client_secret_basic and client_secret_post', async () => {
    const client = await registerConfidential();
    const basic = await postForm(
      `${sandbox.general.origin}/token`,
      { grant_type: 'client_credentials', scope: 'system/*.rs' },
      { authorization: basicAuth(client.client_id, client.client_secret) },
    );
    expect(basic.status).toBe(200);
    expect(basic.body.token_type).toBe('Bearer');
    expect(basic.body.scope).toBe('system/*.rs');
    const claims = decodeJwt(String(basic.body.access_token));
    expect(claims.aud).toBe(sandbox.general.fhirBase);
    expect(claims.iss).toBe(sandbox.general.issuer);
    expect(claims.client_id).toBe(client.client_id);

    const post = await registerConfidential({ token_endpoint_auth_method: 'client_secret_post' });
    const viaPost = await postForm(`${sandbox.general.origin}/token`, {
      grant_type: 'client_credentials',
      client_id: post.client_id,
      client_secret: post.client_secret,
    });
    expect(viaPost.status).toBe(200);
    expect(viaPost.body.access_token).toEqual(expect.any(String));
  });

  it('refuses a wrong secret with invalid_client', async () => {
    const client = await registerConfidential();
    const res = await postForm(
      `${sandbox.general.origin}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(client.client_id, `${client.client_secret}x`) },
    );
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });
});

describe('General Hospital authorization code flow', () => {
  it('auto-approves a PKCE authorization request as sandbox-patient and names the patient in the token response', async () => {
    const redirectUri = 'http://127.0.0.1:9/cb';
    const reg = await sendJson('POST', sandbox.general.registrationEndpoint, {
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      scope: 'openid fhirUser launch/patient patient/*.rs',
    });
    expect(reg.status).toBe(201);
    const clientId = String(reg.body.client_id);
    const verifier = randomBytes(32).toString('base64url');
    const cookies = new Map<string, string>();
    let url = `${sandbox.general.origin}/auth?${new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid fhirUser launch/patient patient/*.rs',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: 'st4te',
    })}`;
    for (let hop = 0; hop < 10 && !url.startsWith(redirectUri); hop += 1) {
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const cookie of res.headers.getSetCookie()) {
        const [name = '', value = ''] = (cookie.split(';')[0] ?? '').split('=');
        if (value) cookies.set(name, value);
        else cookies.delete(name);
      }
      const location = res.headers.get('location');
      expect(res.status, await res.text()).toBe(303);
      url = new URL(location ?? '', url).toString();
    }
    const callback = new URL(url);
    expect(callback.searchParams.get('state')).toBe('st4te');
    expect(callback.searchParams.get('iss')).toBe(sandbox.general.issuer);
    const token = await postForm(`${sandbox.general.origin}/token`, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: redirectUri,
      client_id: clientId,
      code_verifier: verifier,
    });
    expect(token.status).toBe(200);
    expect(token.body.patient).toBe('sandbox-patient');
    expect(token.body.id_token).toEqual(expect.any(String));
    expect(String(token.body.scope).split(' ')).toEqual(expect.arrayContaining(['launch/patient', 'patient/*.rs']));
    expect(decodeJwt(String(token.body.access_token)).sub).toBe('sandbox-patient');
  });
});

describe('General Hospital secret expiry', () => {
  it('refuses the secret at the token endpoint once client_secret_expires_at has passed', async () => {
    const logs2: string[] = [];
    const short = await startSandbox({ generalSecretTtlSeconds: 2, log: (l) => logs2.push(l) });
    try {
      const reg = await sendJson('POST', short.general.registrationEndpoint, {
        redirect_uris: ['https://app.example.com/cb'],
        grant_types: ['authorization_code', 'client_credentials'],
      });
      expect(reg.status).toBe(201);
      const expiresAt = Number(reg.body.client_secret_expires_at);
      expect(expiresAt).toBe(Number(reg.body.client_id_issued_at) + 2);
      const auth = { authorization: basicAuth(String(reg.body.client_id), String(reg.body.client_secret)) };

      const fresh = await postForm(`${short.general.origin}/token`, { grant_type: 'client_credentials' }, auth);
      expect(fresh.status).toBe(200);

      // clockTolerance is 0, so the secret stops working at expires_at exactly.
      await sleep(Math.max(0, expiresAt * 1000 - Date.now()) + 250);
      const expired = await postForm(`${short.general.origin}/token`, { grant_type: 'client_credentials' }, auth);
      // oidc-provider answers an expired secret with 400 (not the 401 of a wrong secret).
      expect(expired.status).toBe(400);
      expect(expired.body).toEqual({ error: 'invalid_client', error_description: 'could not authenticate the client - its client secret is expired' });
    } finally {
      await short.stop();
    }
    expect(logs2).toEqual([]);
  });
});
