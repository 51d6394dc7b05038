import type { IncomingMessage, ServerResponse } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseAllowlist } from '@/lib/oauth/allowlist';

import { deleteClientRegistration, readClientRegistration, registerClient, updateClientRegistration, type RegistrationFetchInit } from './index';
import { captureError, listen, loopbackPolicy, readRequestBody, type Loopback } from './test-support';

/** Appears in server answers; must never reach an error message or error details. */
const CANARY = 'canary-secret-5f1d9c2e7b41';
const CANARY_RAT = 'canary-rat-0a9b8c7d6e5f';
const IAT = 'iat-sent-by-us-1234567890';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

let server: Loopback;
let fetchInit: RegistrationFetchInit;
const requestsSeen: string[] = [];

/** A misbehaving authorization server: one fault per path. */
const ROUTES: Record<string, Handler> = {
  '/status-200': (_req, res, body) =>
    json(res, 200, {
      ...(JSON.parse(body) as object),
      client_id: 'client-200',
      client_secret: CANARY,
      client_secret_expires_at: 0,
      registration_access_token: CANARY_RAT,
      registration_client_uri: `${server.origin}/manage/client-200`,
    }),
  '/html-500': (_req, res) => {
    const html = `<!DOCTYPE html>\n<html><head><title>Internal Server Error</title><style>h1{color:red}</style></head>\n<body><h1>Oops &amp; sorry</h1><p>debug: client_secret=${CANARY}</p></body></html>`;
    res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  },
  '/html-404': (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<html><body><h1>Not Found</h1><p>The page you asked for is elsewhere.</p></body></html>');
  },
  '/html-long': (_req, res) => {
    res.writeHead(400, { 'content-type': 'text/html' });
    res.end(`<html><body><p><b>Bad</b> request: ${'x'.repeat(400)}</p></body></html>`);
  },
  '/json-500': (_req, res) => json(res, 500, { error: 'server_error', error_description: 'database unavailable' }),
  '/invalid-metadata': (_req, res) =>
    json(res, 400, { error: 'invalid_client_metadata', error_description: 'grant_types: client_credentials is not allowed for this software' }),
  '/invalid-metadata-vague': (_req, res) => json(res, 400, { error: 'invalid_client_metadata', error_description: 'the request is not acceptable' }),
  '/invalid-metadata-echo': (_req, res) =>
    json(res, 400, { error: 'invalid_client_metadata', error_description: `scope refused for secret ${CANARY}`, client_secret: CANARY }),
  '/unapproved-statement': (_req, res) => json(res, 400, { error: 'unapproved_software_statement', error_description: 'issuer not trusted' }),
  '/bearer-401': (_req, res) =>
    json(res, 401, { error: 'access_denied', error_description: 'body says something else' }, {
      'www-authenticate': 'Bearer realm="hospital", error="invalid_token", error_description="the initial access token \\"expired\\""',
    }),
  '/bearer-403': (_req, res) =>
    json(res, 403, { error: 'forbidden' }, { 'www-authenticate': `Bearer error="insufficient_scope", error_description="token ${IAT} lacks dcr"` }),
  '/hang': () => {
    // Reads the request, never answers.
  },
  '/slow-body': (_req, res) => {
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': '400' });
    res.write('{"client_id":"slow",');
  },
  '/reset-mid-response': (_req, res) => {
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': '500' });
    res.write(`{"client_id":"c","client_secret":"${CANARY}",`);
    setTimeout(() => res.socket?.destroy(), 20);
  },
  '/reset-before-response': (req) => req.socket.destroy(),
  '/no-expiry': (_req, res) => json(res, 201, { client_id: 'c-no-expiry', client_secret: CANARY }),
  '/ms-expiry': (_req, res) => json(res, 201, { client_id: 'c-ms', client_secret: CANARY, client_secret_expires_at: Date.now() + 86_400_000 }),
  '/zero-expiry': (_req, res) => json(res, 201, { client_id: 'c-zero', client_secret: CANARY, client_secret_expires_at: 0 }),
  '/string-expiry': (_req, res) => json(res, 201, { client_id: 'c-str', client_secret: CANARY, client_secret_expires_at: 'soon' }),
  '/substitute': (_req, res) =>
    json(res, 201, {
      client_id: ' G0000-SPACE ',
      client_name: ' Registrar ',
      grant_types: [' client_credentials'],
      scope: 'system/Patient.rs',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['https://app.example.com/cb'],
      x_vendor_flag: true,
      client_secret: ` ${CANARY}`,
      client_secret_expires_at: 0,
    }),
  '/not-json-201': (_req, res) => {
    res.writeHead(201, { 'content-type': 'text/plain' });
    res.end(`created; client_secret=${CANARY}`);
  },
  '/json-without-client-id': (_req, res) => json(res, 201, { client_secret: CANARY, client_secret_expires_at: 0 }),
  '/redirect': (_req, res) => {
    res.writeHead(302, { location: 'https://login.example.com/' });
    res.end();
  },
  '/manage/no-delete': (req, res) => {
    if (req.method === 'DELETE') json(res, 405, { error: 'invalid_request', error_description: 'deletion is not supported' }, { allow: 'GET, PUT' });
    else json(res, 200, { client_id: 'managed', client_name: 'Managed' });
  },
  '/manage/gone': (_req, res) => {
    // A 401 without WWW-Authenticate: still a refused RAT.
    res.writeHead(401, { 'content-type': 'text/plain' });
    res.end('Unauthorized');
  },
  '/manage/rotating': (req, res, body) => {
    if (req.method === 'PUT') json(res, 200, { ...(JSON.parse(body) as object), registration_access_token: CANARY_RAT, client_secret: CANARY, client_secret_expires_at: 0 });
    else json(res, 200, { client_id: 'rotating', client_name: 'Rotating' });
  },
};

beforeAll(async () => {
  server = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requestsSeen.push(`${req.method} ${path}`);
    void readRequestBody(req).then((body) => {
      const handler = ROUTES[path];
      if (handler) handler(req, res, body);
      else json(res, 404, { error: 'not_found' });
    });
  });
  fetchInit = { policy: loopbackPolicy(server.origin), headersTimeoutMs: 2_000, totalTimeoutMs: 3_000 };
});

afterAll(async () => {
  await server?.close();
});

const metadata = { client_name: 'Registrar', redirect_uris: ['https://app.example.com/cb'], grant_types: ['client_credentials'], scope: 'system/*.rs system/Patient.rs' };
const register = (path: string, init: RegistrationFetchInit = fetchInit) =>
  registerClient({ registrationEndpoint: `${server.origin}${path}`, metadata, initialAccessToken: IAT, fetchInit: init });

function expectNoSecrets(serialized: string): void {
  for (const secret of [CANARY, CANARY_RAT, IAT]) expect(serialized).not.toContain(secret);
}

describe('success answers that bend RFC 7591', () => {
  it('accepts 200 instead of 201 with a warning and keeps the secret and RAT the body carries', async () => {
    const reg = await register('/status-200');
    expect(reg.httpStatus).toBe(200);
    expect(reg.clientId).toBe('client-200');
    expect(reg.clientSecret).toBe(CANARY);
    expect(reg.registrationAccessToken).toBe(CANARY_RAT);
    expect(reg.secretExpiry).toEqual({ kind: 'never' });
    expect(reg.warnings.map((w) => w.code)).toEqual(['STATUS_200_NOT_201']);
    expectNoSecrets(JSON.stringify({ ...reg, rawBody: undefined, clientSecret: undefined, registrationAccessToken: undefined }));
    expect(reg.rawBody).toContain(CANARY);
  });

  it('records a secret without client_secret_expires_at as unknown (not never) and warns', async () => {
    const reg = await register('/no-expiry');
    expect(reg.secretExpiry).toEqual({ kind: 'unknown' });
    expect(reg.warnings.map((w) => w.code)).toContain('SECRET_EXPIRY_MISSING');
  });

  it('reads a 13-digit expiry as milliseconds and flags it', async () => {
    const before = Date.now();
    const reg = await register('/ms-expiry');
    expect(reg.secretExpiry.kind).toBe('at');
    const at = reg.secretExpiry.kind === 'at' ? reg.secretExpiry.at.getTime() : 0;
    expect(at).toBeGreaterThanOrEqual(before + 86_400_000 - 1_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 86_400_000);
    expect(reg.warnings.find((w) => w.code === 'SECRET_EXPIRY_MILLISECONDS')?.field).toBe('client_secret_expires_at');
  });

  it('reads expiry 0 as never, and a non-number as unknown with a warning', async () => {
    expect((await register('/zero-expiry')).secretExpiry).toEqual({ kind: 'never' });
    const odd = await register('/string-expiry');
    expect(odd.secretExpiry).toEqual({ kind: 'unknown' });
    expect(odd.warnings.map((w) => w.code)).toContain('SECRET_EXPIRY_INVALID');
  });

  it('warns per substituted field, trims stray spaces (but not in the secret), and lists non-standard fields', async () => {
    const reg = await register('/substitute');
    expect(reg.clientId).toBe('G0000-SPACE');
    expect(reg.metadata.client_name).toBe('Registrar');
    expect(reg.metadata.grant_types).toEqual(['client_credentials']);
    expect(reg.clientSecret).toBe(` ${CANARY}`);
    const byField = (code: string) => reg.warnings.filter((w) => w.code === code).map((w) => w.field);
    expect(byField('VALUE_TRIMMED').sort()).toEqual(['client_id', 'client_name', 'grant_types']);
    expect(byField('CREDENTIAL_HAS_WHITESPACE')).toEqual(['client_secret']);
    expect(byField('METADATA_SUBSTITUTED')).toEqual(['scope']);
    expect(reg.warnings.find((w) => w.field === 'scope')?.message).toBe('The server narrowed the scope: dropped system/*.rs.');
    const unexpected = reg.warnings.find((w) => w.code === 'UNEXPECTED_FIELDS');
    expect(unexpected?.message).toContain('x_vendor_flag');
    expectNoSecrets(JSON.stringify(reg.warnings));
  });
});

describe('error answers', () => {
  it('maps a 500 HTML page to UPSTREAM_UNREACHABLE naming HTML, the status and the first line of text', async () => {
    const error = await captureError(() => register('/html-500'));
    expect(error.code).toBe('UPSTREAM_UNREACHABLE');
    expect(error.info).toEqual({ kind: 'http', status: 500, outcomeUnknown: true });
    expect(error.message).toContain('HTTP 500 with an HTML page instead of JSON: "Internal Server Error"');
    expectNoSecrets(error.serialized);
  });

  it('maps a 404 HTML page to UPSTREAM_REJECTED and caps the quoted line at 200 characters', async () => {
    const error = await captureError(() => register('/html-404'));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.info).toEqual({ kind: 'http', status: 404, outcomeUnknown: false });
    expect(error.message).toContain('"Not Found"');
    const long = await captureError(() => register('/html-long'));
    const quoted = /instead of JSON: "(.*)"\.$/.exec(long.message)?.[1];
    expect(quoted?.startsWith('Bad request: xxx')).toBe(true);
    expect(quoted).toHaveLength(200);
  });

  it('maps a JSON 5xx error to UPSTREAM_UNREACHABLE with the server error shown', async () => {
    const error = await captureError(() => register('/json-500'));
    expect(error.code).toBe('UPSTREAM_UNREACHABLE');
    expect(error.info).toMatchObject({ kind: 'rfc7591', status: 500, error: 'server_error', errorDescription: 'database unavailable' });
    expect(error.message).toContain('HTTP 500 server_error: database unavailable');
  });

  it('maps 400 invalid_client_metadata to UPSTREAM_REJECTED and reads the field from the description when it is obvious', async () => {
    const error = await captureError(() => register('/invalid-metadata'));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.info).toEqual({
      kind: 'rfc7591',
      status: 400,
      error: 'invalid_client_metadata',
      errorDescription: 'grant_types: client_credentials is not allowed for this software',
      field: 'grant_types',
      outcomeUnknown: false,
    });
    expect(error.message).toContain('invalid_client_metadata: grant_types: client_credentials is not allowed for this software');

    const vague = await captureError(() => register('/invalid-metadata-vague'));
    expect(vague.info.field).toBeUndefined();
    const statement = await captureError(() => register('/unapproved-statement'));
    expect(statement.info).toMatchObject({ error: 'unapproved_software_statement', field: 'software_statement' });
  });

  it('redacts a secret the server echoes in its error description', async () => {
    const error = await captureError(() => register('/invalid-metadata-echo'));
    expect(error.info.errorDescription).toBe('scope refused for secret [redacted]');
    expectNoSecrets(error.serialized);
  });

  it('takes a bearer error from WWW-Authenticate (401) over the body, and does not quote the token', async () => {
    const error = await captureError(() => register('/bearer-401'));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.info).toEqual({
      kind: 'bearer',
      status: 401,
      error: 'invalid_token',
      errorDescription: 'the initial access token "expired"',
      outcomeUnknown: false,
    });
    const forbidden = await captureError(() => register('/bearer-403'));
    expect(forbidden.info).toMatchObject({ kind: 'bearer', status: 403, error: 'insufficient_scope', errorDescription: 'token [redacted] lacks dcr' });
    expectNoSecrets(error.serialized + forbidden.serialized);
  });

  it('treats a 2xx without a usable body as in doubt (INVALID_JSON, outcomeUnknown) without quoting the body', async () => {
    for (const path of ['/not-json-201', '/json-without-client-id']) {
      const error = await captureError(() => register(path));
      expect(error.code).toBe('INVALID_JSON');
      expect(error.info).toEqual({ kind: 'http', status: 201, outcomeUnknown: true });
      expect(error.message).toContain('check with the hospital');
      expectNoSecrets(error.serialized);
    }
  });

  it('does not follow a redirect', async () => {
    const error = await captureError(() => register('/redirect'));
    expect(error.code).toBe('UNEXPECTED_REDIRECT');
    expect(error.info).toMatchObject({ kind: 'http', status: 302 });
  });
});

describe('transport failures and outcomeUnknown', () => {
  it('a timeout after the request was sent leaves the outcome unknown', async () => {
    const started = Date.now();
    const error = await captureError(() => register('/hang', { ...fetchInit, headersTimeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe('TIMEOUT');
    expect(error.info).toEqual({ kind: 'network', outcomeUnknown: true });
    expect(error.details.phase).toBe('headers');
    expect(error.message).toContain('may have registered the client anyway');
    expect(requestsSeen).toContain('POST /hang');

    const slow = await captureError(() => register('/slow-body', { ...fetchInit, totalTimeoutMs: 400 }));
    expect(slow.code).toBe('TIMEOUT');
    expect(slow.info.outcomeUnknown).toBe(true);
  });

  it('a connection reset mid-response or before any response leaves the outcome unknown', async () => {
    const mid = await captureError(() => register('/reset-mid-response'));
    expect(mid.code).toBe('UPSTREAM_UNREACHABLE');
    expect(mid.info).toEqual({ kind: 'network', outcomeUnknown: true });
    expectNoSecrets(mid.serialized);

    const before = await captureError(() => register('/reset-before-response'));
    expect(before.code).toBe('UPSTREAM_UNREACHABLE');
    expect(before.info.outcomeUnknown).toBe(true);
  });

  it('a refused connection or a DNS failure sent nothing: outcome known', async () => {
    const closed = await listen(() => undefined);
    const origin = closed.origin;
    await closed.close();
    const refused = await captureError(() =>
      registerClient({ registrationEndpoint: `${origin}/reg`, metadata, fetchInit: { policy: loopbackPolicy(origin) } }),
    );
    expect(refused.code).toBe('UPSTREAM_UNREACHABLE');
    expect(refused.info).toEqual({ kind: 'network', outcomeUnknown: false });

    const dns = await captureError(() =>
      registerClient({
        registrationEndpoint: 'http://as.hospital.invalid/reg',
        metadata,
        fetchInit: {
          policy: { allowlist: parseAllowlist('http://as.hospital.invalid') },
          resolve: () => Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' })),
        },
      }),
    );
    expect(dns.code).toBe('UPSTREAM_UNREACHABLE');
    expect(dns.info).toEqual({ kind: 'network', outcomeUnknown: false });
  });

  it('keeps safeFetch policy refusals (plain http without an allowlist entry) as they are, outcome known', async () => {
    const error = await captureError(() =>
      registerClient({ registrationEndpoint: `${server.origin}/status-200`, metadata, fetchInit: { policy: { allowlist: [] } } }),
    );
    expect(error.code).toBe('INSECURE_SCHEME');
    expect(error.info).toEqual({ kind: 'network', outcomeUnknown: false });
  });
});

describe('RFC 7592 management answers', () => {
  it('DELETE answered 405 means the server does not allow deletion', async () => {
    await expect(
      deleteClientRegistration({ registrationClientUri: `${server.origin}/manage/no-delete`, registrationAccessToken: CANARY_RAT, fetchInit }),
    ).resolves.toEqual({ deleted: false, reason: 'not_allowed' });
  });

  it('a 401 without WWW-Authenticate on read is still "management access lost" (bearer, 401)', async () => {
    const error = await captureError(() =>
      readClientRegistration({ registrationClientUri: `${server.origin}/manage/gone`, registrationAccessToken: CANARY_RAT, fetchInit }),
    );
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.info).toEqual({ kind: 'bearer', status: 401, outcomeUnknown: false });
    expect(error.message).toMatch(/^Management access lost/);
    expectNoSecrets(error.serialized);
  });

  it('a read without RAT or URI in the answer returns the ones used, so a caller never stores null over them', async () => {
    const read = await readClientRegistration({ registrationClientUri: `${server.origin}/manage/no-delete`, registrationAccessToken: 'current-rat-value', fetchInit });
    expect(read.registrationAccessToken).toBe('current-rat-value');
    expect(read.registrationClientUri).toBe(`${server.origin}/manage/no-delete`);
    expect(read.clientSecret).toBeNull();
  });

  it('an update answer with a new RAT and secret returns them', async () => {
    const updated = await updateClientRegistration({
      registrationClientUri: `${server.origin}/manage/rotating`,
      registrationAccessToken: 'old-rat-value',
      lastServerMetadata: { client_id: 'rotating', client_name: 'Rotating' },
      changes: { client_name: 'Rotated' },
      fetchInit,
    });
    expect(updated.registrationAccessToken).toBe(CANARY_RAT);
    expect(updated.clientSecret).toBe(CANARY);
    expect(updated.metadata).toEqual({ client_id: 'rotating', client_name: 'Rotated', client_secret_expires_at: 0 });
  });
});
