import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startSandbox, type Sandbox } from '@/sandbox';

import {
  buildEpicRegistrationBody,
  deleteClientRegistration,
  generateClientKeyPair,
  publicJwks,
  readClientRegistration,
  registerClient,
  requestClientCredentialsToken,
  updateClientRegistration,
  type ClientMetadata,
  type RegistrationFetchInit,
} from './index';
import { captureError, listen, loopbackPolicy, readRequestBody, type Loopback } from './test-support';

const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000;
const FORBIDDEN_IN_PUT = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at', 'client_secret'];

let sandbox: Sandbox;
let proxy: Loopback;
let fetchInit: RegistrationFetchInit;
const logs: string[] = [];
/** Requests that went through the recording proxy in front of General Hospital. */
const recorded: Array<{ method: string; path: string; body: string }> = [];

beforeAll(async () => {
  sandbox = await startSandbox({ log: (line) => logs.push(line) });
  // Records what is really sent on the wire, then forwards to General Hospital.
  proxy = await listen((req, res) => {
    void (async () => {
      const body = await readRequestBody(req);
      recorded.push({ method: req.method ?? '', path: req.url ?? '', body });
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'accept']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const upstream = await fetch(`${sandbox.general.origin}${req.url ?? '/'}`, {
        method: req.method,
        headers,
        ...(body !== '' ? { body } : {}),
      });
      const text = await upstream.text();
      const out: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
      const challenge = upstream.headers.get('www-authenticate');
      if (challenge) out['www-authenticate'] = challenge;
      res.writeHead(upstream.status, out);
      res.end(text);
    })().catch((error: unknown) => {
      logs.push(`proxy: ${String(error)}`);
      res.destroy();
    });
  });
  fetchInit = { policy: loopbackPolicy(sandbox.general.origin, sandbox.mercy.origin, sandbox.epic.origin, proxy.origin) };
});

afterAll(async () => {
  await proxy?.close();
  await sandbox?.stop();
  expect(logs).toEqual([]);
});

const viaProxy = (uri: string) => `${proxy.origin}${new URL(uri).pathname}`;

function confidentialMetadata(extra: ClientMetadata = {}): ClientMetadata {
  return {
    client_name: 'Registrar test',
    redirect_uris: ['https://app.example.com/callback'],
    grant_types: ['authorization_code', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid fhirUser launch/patient system/*.rs',
    software_id: 'registrar',
    software_version: '1.2.3',
    ...extra,
  };
}

describe('General Hospital: RFC 7591 registration and RFC 7592 management', () => {
  it('registers a client_secret_basic client: 201, secret, RAT, expiry about 30 days ahead, metadata without credentials', async () => {
    const before = Date.now();
    const reg = await registerClient({ registrationEndpoint: sandbox.general.registrationEndpoint, metadata: confidentialMetadata(), fetchInit });

    expect(reg.httpStatus).toBe(201);
    expect(reg.clientId).toEqual(expect.any(String));
    expect(reg.clientSecret).toEqual(expect.any(String));
    expect(reg.registrationAccessToken).toEqual(expect.any(String));
    expect(reg.registrationClientUri).toBe(`${sandbox.general.registrationEndpoint}/${reg.clientId}`);
    expect(reg.secretExpiry.kind).toBe('at');
    const at = reg.secretExpiry.kind === 'at' ? reg.secretExpiry.at.getTime() : 0;
    expect(Math.abs(at - (before + THIRTY_DAYS_MS))).toBeLessThan(60_000);
    expect(reg.clientIdIssuedAt?.getTime()).toBeGreaterThan(before - 60_000);
    expect(reg.metadata).not.toHaveProperty('client_secret');
    expect(reg.metadata).not.toHaveProperty('registration_access_token');
    expect(JSON.stringify(reg.metadata)).not.toContain(reg.clientSecret!);
    expect(JSON.stringify(reg.metadata)).not.toContain(reg.registrationAccessToken!);
    expect(reg.rawBody).toContain(reg.clientSecret!);
    expect(reg.metadata.client_name).toBe('Registrar test');
    // Every requested field was kept and every returned field is standard metadata.
    expect(reg.warnings).toEqual([]);
  });

  it('reads the registration back with its RAT', async () => {
    const reg = await registerClient({ registrationEndpoint: sandbox.general.registrationEndpoint, metadata: confidentialMetadata(), fetchInit });
    const read = await readClientRegistration({
      registrationClientUri: reg.registrationClientUri!,
      registrationAccessToken: reg.registrationAccessToken!,
      fetchInit,
    });
    expect(read.httpStatus).toBe(200);
    expect(read.clientId).toBe(reg.clientId);
    expect(read.clientSecret).toBe(reg.clientSecret);
    expect(read.registrationAccessToken).toBe(reg.registrationAccessToken);
    expect(read.metadata).toEqual(reg.metadata);
    expect(read.warnings).toEqual([]);
  });

  it('updates with a PUT of the whole last response minus server-managed fields; the RAT rotates and the old one gets 401', async () => {
    const reg = await registerClient({ registrationEndpoint: sandbox.general.registrationEndpoint, metadata: confidentialMetadata(), fetchInit });
    recorded.length = 0;
    const updated = await updateClientRegistration({
      registrationClientUri: viaProxy(reg.registrationClientUri!),
      registrationAccessToken: reg.registrationAccessToken!,
      lastServerMetadata: reg.metadata,
      changes: { client_name: 'Registrar test (renamed)' },
      fetchInit,
    });

    // What went over the wire.
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.method).toBe('PUT');
    const sent = JSON.parse(recorded[0]!.body) as Record<string, unknown>;
    for (const field of FORBIDDEN_IN_PUT) expect(sent).not.toHaveProperty(field);
    for (const [field, value] of Object.entries(reg.metadata)) {
      if (FORBIDDEN_IN_PUT.includes(field)) continue;
      expect(sent[field], field).toEqual(field === 'client_name' ? 'Registrar test (renamed)' : value);
    }
    expect(sent.client_id).toBe(reg.clientId);

    // The answer.
    expect(updated.httpStatus).toBe(200);
    expect(updated.metadata.client_name).toBe('Registrar test (renamed)');
    expect(updated.clientSecret).toBe(reg.clientSecret);
    expect(updated.registrationAccessToken).toEqual(expect.any(String));
    expect(updated.registrationAccessToken).not.toBe(reg.registrationAccessToken);
    expect(updated.warnings).toEqual([]);

    // The server's record holds every field of the last response, changed only where asked.
    const current = await readClientRegistration({
      registrationClientUri: reg.registrationClientUri!,
      registrationAccessToken: updated.registrationAccessToken!,
      fetchInit,
    });
    for (const [field, value] of Object.entries(reg.metadata)) {
      expect(current.metadata[field], field).toEqual(field === 'client_name' ? 'Registrar test (renamed)' : value);
    }
    expect(current.secretExpiry).toEqual(reg.secretExpiry);

    const old = await captureError(() =>
      readClientRegistration({ registrationClientUri: reg.registrationClientUri!, registrationAccessToken: reg.registrationAccessToken!, fetchInit }),
    );
    expect(old.code).toBe('UPSTREAM_REJECTED');
    expect(old.info).toMatchObject({ kind: 'bearer', status: 401, error: 'invalid_token', outcomeUnknown: false });
    expect(old.message).toMatch(/^Management access lost/);
    expect(old.serialized).not.toContain(reg.registrationAccessToken!);
  });

  it('deletes with 204, after which the RAT gets 401', async () => {
    const reg = await registerClient({ registrationEndpoint: sandbox.general.registrationEndpoint, metadata: confidentialMetadata(), fetchInit });
    const management = { registrationClientUri: reg.registrationClientUri!, registrationAccessToken: reg.registrationAccessToken!, fetchInit };
    await expect(deleteClientRegistration(management)).resolves.toEqual({ deleted: true });
    const after = await captureError(() => readClientRegistration(management));
    expect(after.code).toBe('UPSTREAM_REJECTED');
    expect(after.info).toMatchObject({ kind: 'bearer', status: 401 });
    const again = await captureError(() => deleteClientRegistration(management));
    expect(again.info).toMatchObject({ kind: 'bearer', status: 401 });
  });

  it('gets a client_credentials token with the registered secret (basic and post); a wrong secret is refused without being quoted', async () => {
    const tokenEndpoint = `${sandbox.general.origin}/token`;
    const basic = await registerClient({ registrationEndpoint: sandbox.general.registrationEndpoint, metadata: confidentialMetadata(), fetchInit });
    const token = await requestClientCredentialsToken({
      tokenEndpoint,
      clientId: basic.clientId,
      auth: { method: 'client_secret_basic', secret: basic.clientSecret! },
      scope: 'system/*.rs',
      fetchInit,
    });
    expect(token.accessToken).toEqual(expect.any(String));
    expect(token.scope).toBe('system/*.rs');
    expect(token.expiresIn).toBeGreaterThan(0);

    const post = await registerClient({
      registrationEndpoint: sandbox.general.registrationEndpoint,
      metadata: confidentialMetadata({ token_endpoint_auth_method: 'client_secret_post' }),
      fetchInit,
    });
    const viaPost = await requestClientCredentialsToken({ tokenEndpoint, clientId: post.clientId, auth: { method: 'client_secret_post', secret: post.clientSecret! }, fetchInit });
    expect(viaPost.accessToken).toEqual(expect.any(String));

    const wrongSecret = `${basic.clientSecret!}-wrong`;
    const refused = await captureError(() =>
      requestClientCredentialsToken({ tokenEndpoint, clientId: basic.clientId, auth: { method: 'client_secret_basic', secret: wrongSecret }, fetchInit }),
    );
    expect(refused.code).toBe('UPSTREAM_REJECTED');
    expect(refused.info).toMatchObject({ kind: 'rfc7591', status: 401, error: 'invalid_client' });
    expect(refused.serialized).not.toContain(basic.clientSecret!);
  });

  it('maps an unknown scope refused with invalid_client_metadata to the scope field', async () => {
    const refused = await captureError(() =>
      registerClient({
        registrationEndpoint: sandbox.general.registrationEndpoint,
        metadata: confidentialMetadata({ scope: 'system/*.rs system/Spaceship.read' }),
        fetchInit,
      }),
    );
    expect(refused.code).toBe('UPSTREAM_REJECTED');
    expect(refused.info).toMatchObject({ kind: 'rfc7591', status: 400, error: 'invalid_client_metadata', outcomeUnknown: false });
    expect(refused.info.field).toBe('scope');
  });
});

describe('Mercy Health: initial access tokens and private_key_jwt', () => {
  for (const alg of ['ES384', 'RS384'] as const) {
    it(`registers a ${alg} private_key_jwt client with inline jwks and a minted IAT, then gets a token with the private key`, async () => {
      const key = await generateClientKeyPair(alg);
      const iat = await sandbox.mintInitialAccessToken('mercy');
      const reg = await registerClient({
        registrationEndpoint: sandbox.mercy.registrationEndpoint,
        initialAccessToken: iat,
        metadata: {
          client_name: `Registrar backend ${alg}`,
          grant_types: ['client_credentials'],
          response_types: [],
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: alg,
          scope: 'system/*.rs',
          jwks: publicJwks([key.publicJwk]),
        },
        fetchInit,
      });
      expect(reg.httpStatus).toBe(201);
      expect(reg.clientSecret).toBeNull();
      expect(reg.secretExpiry).toEqual({ kind: 'none' });
      expect(reg.metadata.token_endpoint_auth_method).toBe('private_key_jwt');
      expect(reg.warnings).toEqual([]);

      const token = await requestClientCredentialsToken({
        tokenEndpoint: `${sandbox.mercy.origin}/token`,
        clientId: reg.clientId,
        auth: { method: 'private_key_jwt', privateKeyPkcs8Pem: key.privateKeyPkcs8Pem, alg, kid: key.kid },
        scope: 'system/*.rs',
        fetchInit,
      });
      expect(token.accessToken).toEqual(expect.any(String));
      expect(token.scope).toBe('system/*.rs');
    });
  }

  it('refuses a spent initial access token as a bearer error with 401, without quoting the token', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy', { uses: 1 });
    const metadata = { redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'none' };
    await registerClient({ registrationEndpoint: sandbox.mercy.registrationEndpoint, initialAccessToken: iat, metadata, fetchInit });
    const spent = await captureError(() => registerClient({ registrationEndpoint: sandbox.mercy.registrationEndpoint, initialAccessToken: iat, metadata, fetchInit }));
    expect(spent.code).toBe('UPSTREAM_REJECTED');
    expect(spent.info).toMatchObject({ kind: 'bearer', status: 401, error: 'invalid_token', outcomeUnknown: false });
    expect(spent.message).toContain('initial access token');
    expect(spent.serialized).not.toContain(iat);

    const none = await captureError(() => registerClient({ registrationEndpoint: sandbox.mercy.registrationEndpoint, metadata, fetchInit }));
    expect(none.info).toMatchObject({ kind: 'bearer', status: 401 });
    expect(none.message).toContain('requires an initial access token');
  });

  it('maps an untrusted redirect URI to UPSTREAM_REJECTED on redirect_uris with the server description', async () => {
    const iat = await sandbox.mintInitialAccessToken('mercy');
    const refused = await captureError(() =>
      registerClient({
        registrationEndpoint: sandbox.mercy.registrationEndpoint,
        initialAccessToken: iat,
        metadata: { redirect_uris: ['https://evil.example.net/cb'], token_endpoint_auth_method: 'none' },
        fetchInit,
      }),
    );
    expect(refused.code).toBe('UPSTREAM_REJECTED');
    expect(refused.info).toMatchObject({ kind: 'rfc7591', status: 400, error: 'invalid_redirect_uri', field: 'redirect_uris', outcomeUnknown: false });
    expect(refused.info.errorDescription).toContain('https://evil.example.net/cb');
    expect(refused.info.errorDescription).toContain("Mercy Health's trusted list");
    expect(refused.message).toContain(refused.info.errorDescription!);
    expect(refused.serialized).not.toContain(iat);
  });
});

describe('Epic-like: {software_id, jwks} registration', () => {
  it('registers with exactly {software_id, jwks} and an IAT: a G… client, no secret, no RAT, no management URI', async () => {
    const key = await generateClientKeyPair('RS384');
    const iat = await sandbox.mintInitialAccessToken('epic');
    const body = buildEpicRegistrationBody('registrar-epic-app', publicJwks([key.publicJwk]));
    expect(Object.keys(body).sort()).toEqual(['jwks', 'software_id']);
    const reg = await registerClient({ registrationEndpoint: sandbox.epic.registrationEndpoint, initialAccessToken: iat, metadata: body, fetchInit });
    expect(reg.httpStatus).toBe(201);
    expect(reg.clientId).toMatch(/^G[0-9A-F-]{36}$/);
    expect(reg.clientSecret).toBeNull();
    expect(reg.secretExpiry).toEqual({ kind: 'none' });
    expect(reg.registrationAccessToken).toBeNull();
    expect(reg.registrationClientUri).toBeNull();
    expect(reg.metadata.token_endpoint_auth_method).toBe('none');
    expect(reg.warnings).toEqual([]);
  });
});
