import { gzipSync } from 'node:zlib';

import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { parseAllowlist } from '@/lib/oauth/allowlist';

import { discover, type DiscoverOptions, type DiscoveryResult, type WarningCode } from './index';
import { type MisbehavingServer, type ScenarioHandler, send, startMisbehavingServer } from './testing/misbehaving-server';
import { makeSelfSignedCert } from './testing/self-signed-cert';

let server: MisbehavingServer;
let O: string;
let opts: DiscoverOptions;

const codes = (r: DiscoveryResult) => r.warnings.map((w) => w.code);
const withCode = (r: DiscoveryResult, code: WarningCode) => r.warnings.filter((w) => w.code === code);

/** A complete, correct SMART configuration for the base `${origin}/${scenario}`. */
function smartDoc(base: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer: base,
    jwks_uri: `${base}/jwks`,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    grant_types_supported: ['authorization_code', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    scopes_supported: ['openid', 'fhirUser', 'patient/*.rs'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: ['launch-standalone', 'client-public', 'client-confidential-asymmetric', 'sso-openid-connect', 'permission-v2'],
    ...overrides,
  };
}

function oidcDoc(issuer: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384'],
    code_challenge_methods_supported: ['S256'],
    ...overrides,
  };
}

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';
function capabilityStatement(uris: Record<string, string>): Record<string, unknown> {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    fhirVersion: '4.0.1',
    rest: [{ mode: 'server', security: { extension: [{ url: OAUTH_URIS, extension: Object.entries(uris).map(([url, valueUri]) => ({ url, valueUri })) }] } }],
  };
}

const udapCert = { current: null as ReturnType<typeof makeSelfSignedCert> | null };
const signedMetadata = { ok: '', tampered: '' };

async function signUdap(base: string): Promise<string> {
  const cert = udapCert.current;
  if (!cert) throw new Error('no cert');
  return new SignJWT({
    sub: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/udap-register`,
  })
    .setProtectedHeader({ alg: 'RS256', x5c: [cert.x5c] })
    .setIssuer(base)
    .setIssuedAt()
    .setExpirationTime('1h')
    .setJti('udap-test')
    .sign(cert.privateKey);
}

function tamper(jwt: string): string {
  const [h, p, s] = jwt.split('.');
  const sig = Buffer.from(s ?? '', 'base64url');
  sig[10] = (sig[10] ?? 0) ^ 0xff;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

function udapDoc(base: string, signed: string): Record<string, unknown> {
  return {
    udap_versions_supported: ['1'],
    udap_profiles_supported: ['udap_dcr', 'udap_authn'],
    grant_types_supported: ['authorization_code', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS256'],
    registration_endpoint_jwt_signing_alg_values_supported: ['RS256'],
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/plain-register`,
    signed_metadata: signed,
  };
}

let gzipBomb: Buffer | undefined;

function scenarios(origin: string): Record<string, ScenarioHandler> {
  const b = (s: string) => `${origin}/${s}`;
  const smartOnly =
    (s: string, body: () => unknown, headers: Record<string, string> = {}): ScenarioHandler =>
    (rest, _req, res) =>
      rest === '/.well-known/smart-configuration' ? send(res, 200, body(), headers) : false;
  return {
    mismatch: (rest, _req, res) =>
      rest === '/.well-known/openid-configuration' ? send(res, 200, oidcDoc(`${b('mismatch')}/`)) : false,
    // Serves the metadata of another authorization server, as a compromised or mistaken host might.
    impostor: (rest, _req, res) => (rest === '/.well-known/openid-configuration' ? send(res, 200, oidcDoc(b('mismatch'))) : false),
    redirect: (rest, _req, res) => {
      if (rest === '/.well-known/smart-configuration') {
        res.writeHead(302, { location: 'http://evil.example/steal/.well-known/smart-configuration', 'content-length': 0 });
        res.end();
        return true;
      }
      if (rest === '/.well-known/openid-configuration') return send(res, 200, oidcDoc(b('redirect')));
      return false;
    },
    big: (rest, _req, res) => {
      if (rest !== '/.well-known/smart-configuration') return false;
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no length to refuse up front
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 10 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
      return true;
    },
    bomb: (rest, _req, res) => {
      if (rest !== '/.well-known/smart-configuration') return false;
      // 32 MiB of spaces in about 32 KiB of gzip: far past the 1 MiB decoded limit.
      const bomb = (gzipBomb ??= gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x20)));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
      return true;
    },
    hang: (rest, _req, res) => {
      if (rest === '/.well-known/smart-configuration') return true; // headers never sent
      if (rest === '/.well-known/openid-configuration') return send(res, 200, oidcDoc(b('hang')));
      return false;
    },
    html500: (rest, _req, res) =>
      rest === '/.well-known/smart-configuration'
        ? send(res, 500, '<!doctype html><h1>Internal Server Error</h1>', { 'content-type': 'text/html; charset=utf-8' })
        : false,
    notjson: (rest, _req, res) =>
      rest === '/.well-known/smart-configuration'
        ? send(res, 200, '<!doctype html><title>Sign in</title>', { 'content-type': 'text/html' })
        : false,
    // A SMART document that names another hospital's issuer (on another site) and nothing confirms it.
    claims: smartOnly('claims', () => smartDoc(b('claims'), { issuer: 'https://fhir.other-hospital.example/oauth2' })),
    deep: smartOnly('deep', () => `{"issuer":"x","nested":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
    array: smartOnly('array', () => '[]'),
    string: smartOnly('string', () => '"x"'),
    null: smartOnly('null', () => 'null'),
    proto: (rest, _req, res) => {
      const base = b('proto');
      if (rest === '/.well-known/smart-configuration') {
        const doc = JSON.stringify(smartDoc(base)).slice(1, -1);
        return send(res, 200, `{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},${doc}}`);
      }
      if (rest === '/metadata') {
        const cs = JSON.stringify(capabilityStatement({ authorize: `${base}/authorize`, token: `${base}/token` }));
        return send(res, 200, cs.replace('"rest":[{', '"rest":[{"__proto__":{"polluted":"yes"},'));
      }
      return false;
    },
    relative: smartOnly('relative', () =>
      smartDoc(b('relative'), {
        issuer: undefined,
        capabilities: ['client-confidential-asymmetric', 'permission-v2'],
        token_endpoint: 'oauth/token',
        authorization_endpoint: '/authorize',
        registration_endpoint: 'javascript:alert(1)',
      }),
    ),
    backend: smartOnly('backend', () => ({
      token_endpoint: `${b('backend')}/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      scopes_supported: ['system/*.rs'],
      code_challenge_methods_supported: ['S256'],
      capabilities: ['client-confidential-asymmetric', 'permission-v2'],
    })),
    caponly: (rest, _req, res) =>
      rest === '/metadata'
        ? send(res, 200, capabilityStatement({ authorize: `${b('caponly')}/authorize`, token: `${b('caponly')}/token` }), {
            'content-type': 'application/fhir+json',
          })
        : false,
    bom: smartOnly(
      'bom',
      () =>
        `\uFEFF \n ${JSON.stringify(
          smartDoc(b('bom'), {
            issuer: ` ${b('bom')} `,
            token_endpoint: `   ${b('bom')}/token  `,
            registration_endpoint: `\t${b('bom')}/register\n`,
            capabilities: [' launch-standalone', 'client-public ', 'client-confidential-asymmetric', ' sso-openid-connect', 'permission-v2'],
            scopes_supported: [' openid ', 'openid', '  '],
          }),
        )} \r\n`,
    ),
    conflict: (rest, _req, res) => {
      const base = b('conflict');
      if (rest === '/.well-known/smart-configuration') return send(res, 200, smartDoc(base, { token_endpoint: `${base}/token-a` }));
      if (rest === '/.well-known/openid-configuration') return send(res, 200, oidcDoc(base, { token_endpoint: `${base}/token-b` }));
      return false;
    },
    'udap-ok': (rest, _req, res) => {
      const base = b('udap-ok');
      if (rest === '/.well-known/smart-configuration') return send(res, 200, smartDoc(base));
      if (rest === '/.well-known/udap') return send(res, 200, udapDoc(base, signedMetadata.ok));
      return false;
    },
    'udap-bad': (rest, _req, res) => {
      const base = b('udap-bad');
      if (rest === '/.well-known/smart-configuration') return send(res, 200, smartDoc(base));
      if (rest === '/.well-known/udap') return send(res, 200, udapDoc(base, signedMetadata.tampered));
      return false;
    },
    sloppy: smartOnly('sloppy', () => {
      const doc = smartDoc(b('sloppy'), {
        token_endpoint: 'http://other.example/token',
        token_endpoint_auth_methods: ['client_secret_basic'],
        capabilities: ['launch-standalone', 'client-confidential-asymmetric', 'sso-openid-connect', 'made-up-capability', 'https://example.org/capability/x'],
        code_challenge_methods_supported: ['plain'],
      });
      delete doc.token_endpoint_auth_methods_supported;
      delete doc.token_endpoint_auth_signing_alg_values_supported;
      delete doc.grant_types_supported;
      delete doc.jwks_uri;
      return doc;
    }),
    slow: (_rest, _req, res) => {
      // Every document answers 404 after 60 ms, so parallel requests overlap at the server.
      setTimeout(() => send(res, 404, { error: 'not_found' }), 60);
      return true;
    },
    epiclegacy: (rest, _req, res) => {
      const oauth = `${b('epiclegacy')}/oauth2`;
      if (rest === '/metadata') return send(res, 200, capabilityStatement({ authorize: `${oauth}/authorize`, token: `${oauth}/token` }));
      if (rest === '/oauth2/.well-known/openid-configuration') {
        return send(res, 200, oidcDoc(oauth, { registration_endpoint: `${oauth}/register` }));
      }
      return false;
    },
  };
}

beforeAll(async () => {
  server = await startMisbehavingServer(scenarios);
  O = server.origin;
  udapCert.current = makeSelfSignedCert({ commonName: 'udap test', sanUri: `${O}/udap-ok` });
  signedMetadata.ok = await signUdap(`${O}/udap-ok`);
  udapCert.current = makeSelfSignedCert({ commonName: 'udap test', sanUri: `${O}/udap-bad` });
  signedMetadata.tampered = tamper(await signUdap(`${O}/udap-bad`));
  opts = {
    fetchInit: {
      policy: { allowlist: parseAllowlist(`http://127.0.0.1:${server.port}`) },
      // Only loopback literals are used; any DNS lookup would be a bug (e.g. following a redirect).
      resolve: async (host) => {
        throw new Error(`unexpected DNS lookup of ${host}`);
      },
    },
  };
});

afterAll(async () => {
  await server?.close();
});

beforeEach(() => server.resetStats());

describe('issuer checks', () => {
  it('rejects OpenID metadata whose issuer differs by a trailing slash, and fails with ISSUER_MISMATCH', async () => {
    const r = await discover(`${O}/mismatch`, opts);
    const [mismatch, ...more] = withCode(r, 'ISSUER_MISMATCH');
    expect(more).toEqual([]);
    expect(mismatch).toMatchObject({ severity: 'error', document: 'openid-configuration', field: 'issuer' });
    expect(mismatch?.message).toContain(`"${O}/mismatch/"`);
    expect(r.failure?.code).toBe('ISSUER_MISMATCH');
    expect(r.endpoints).toEqual({});
    expect(r.issuer).toBeNull();
    expect(r.documents['openid-configuration']).toBeUndefined();
    expect(r.attempts.find((a) => a.kind === 'openid-configuration')).toMatchObject({ outcome: 'error', errorCode: 'ISSUER_MISMATCH', status: 200 });
  });

  it('reads a well-known URL entered by the user as that document, accepting the issuer the URL belongs to (with or without its trailing slash)', async () => {
    const r = await discover(`${O}/mismatch/.well-known/openid-configuration`, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBe(`${O}/mismatch/`);
    expect(r.endpoints.token).toEqual({ value: `${O}/mismatch//token`, source: 'openid-configuration', conflicts: [] });
    expect(codes(r)).toContain('WELL_KNOWN_INPUT');
    expect(codes(r)).not.toContain('ISSUER_MISMATCH');
    expect(r.attempts).toHaveLength(1);
    expect(r.udap).toBeNull();
  });

  it('refuses a well-known URL whose document names another issuer (ISSUER_MISMATCH), and records nothing of it', async () => {
    const r = await discover(`${O}/impostor/.well-known/openid-configuration`, opts);
    expect(r.failure?.code).toBe('ISSUER_MISMATCH');
    expect(withCode(r, 'ISSUER_MISMATCH')[0]?.message).toContain(`"${O}/impostor" or "${O}/impostor/"`);
    expect(r.issuer).toBeNull();
    expect(r.endpoints).toEqual({});
  });

  it('reads a SMART well-known URL as the SMART document and its prefix as the FHIR base', async () => {
    const r = await discover(`${O}/backend/.well-known/smart-configuration`, opts);
    expect(r.failure).toBeNull();
    expect(r.fhirBaseUrl).toBe(`${O}/backend`);
    expect(r.attempts[0]?.url).toBe(`${O}/backend/.well-known/smart-configuration`);
    expect(withCode(r, 'WELL_KNOWN_INPUT')).toHaveLength(1);
  });

  it('derives the Epic /oauth2 issuer from the CapabilityStatement token endpoint and checks it', async () => {
    const r = await discover(`${O}/epiclegacy`, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBe(`${O}/epiclegacy/oauth2`);
    expect(r.endpoints.token).toEqual({ value: `${O}/epiclegacy/oauth2/token`, source: 'openid-configuration', conflicts: [] });
    expect(r.endpoints.registration?.source).toBe('openid-configuration');
    expect(r.attempts.map((a) => a.url).slice(5)).toEqual([
      `${O}/epiclegacy/oauth2/.well-known/openid-configuration`,
      `${O}/.well-known/oauth-authorization-server/epiclegacy/oauth2`,
    ]);
  });
});

describe('transport faults become warnings', () => {
  it('a 302 to another host is not followed: DOCUMENT_REDIRECTED', async () => {
    const r = await discover(`${O}/redirect`, opts);
    expect(r.failure).toBeNull();
    expect(r.endpoints.token?.source).toBe('openid-configuration');
    expect(withCode(r, 'DOCUMENT_REDIRECTED')).toHaveLength(1);
    expect(r.attempts[0]).toMatchObject({ kind: 'smart-configuration', outcome: 'error', errorCode: 'UNEXPECTED_REDIRECT' });
    expect(server.requests.every((q) => q.scenario === 'redirect')).toBe(true);
  });

  it('a 10 MB body is cut off: DOCUMENT_TOO_LARGE', async () => {
    const r = await discover(`${O}/big`, opts);
    expect(r.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'TOO_LARGE' });
    expect(withCode(r, 'DOCUMENT_TOO_LARGE')).toHaveLength(1);
    expect(r.failure?.code).toBe('DISCOVERY_FAILED');
  });

  it('a gzip bomb is cut off after decoding the limit: DOCUMENT_TOO_LARGE', async () => {
    const r = await discover(`${O}/bomb`, opts);
    expect(r.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'TOO_LARGE' });
    expect(withCode(r, 'DOCUMENT_TOO_LARGE')).toHaveLength(1);
  });

  it('headers that never finish time out (short fetchInit timeouts): DOCUMENT_TIMEOUT, the rest still merges', async () => {
    const started = Date.now();
    const r = await discover(`${O}/hang`, { fetchInit: { ...opts.fetchInit, headersTimeoutMs: 300, totalTimeoutMs: 600 } });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(r.attempts[0]).toMatchObject({ kind: 'smart-configuration', outcome: 'error', errorCode: 'TIMEOUT' });
    expect(withCode(r, 'DOCUMENT_TIMEOUT')).toHaveLength(1);
    expect(r.failure).toBeNull();
    expect(r.endpoints.token?.value).toBe(`${O}/hang/token`);
  });

  it('an HTML 500 is DOCUMENT_HTTP_ERROR with the status', async () => {
    const r = await discover(`${O}/html500`, opts);
    expect(r.attempts[0]).toMatchObject({ outcome: 'error', status: 500, errorCode: 'DOCUMENT_HTTP_ERROR' });
    const [w, ...more] = withCode(r, 'DOCUMENT_HTTP_ERROR');
    expect(more).toEqual([]);
    expect(w?.message).toContain('HTTP 500 (text/html)');
    expect(codes(r)).not.toContain('DOCUMENT_NOT_JSON');
  });

  it('a 200 HTML page is DOCUMENT_NOT_JSON', async () => {
    const r = await discover(`${O}/notjson`, opts);
    expect(r.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'INVALID_JSON', status: 200 });
    expect(withCode(r, 'DOCUMENT_NOT_JSON')).toHaveLength(1);
    expect(r.failure?.code).toBe('DISCOVERY_FAILED');
  });

  it('a document nested 100,000 levels deep (which could not be stored) is DOCUMENT_NOT_JSON, not a crash', async () => {
    const r = await discover(`${O}/deep`, opts);
    expect(r.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'INVALID_JSON' });
    expect(withCode(r, 'DOCUMENT_NOT_JSON')).toHaveLength(1);
    expect(() => JSON.stringify(r)).not.toThrow();
  });

  it.each([
    ['array', '[]'],
    ['string', '"x"'],
    ['null', 'null'],
  ])('a SMART document that is %s (%s) is DOCUMENT_WRONG_SHAPE, not merged', async (scenario) => {
    const r = await discover(`${O}/${scenario}`, opts);
    expect(r.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'DOCUMENT_WRONG_SHAPE' });
    expect(withCode(r, 'DOCUMENT_WRONG_SHAPE')).toHaveLength(1);
    expect(r.documents).toEqual({});
    expect(r.failure?.code).toBe('DISCOVERY_FAILED');
  });

  it('404s of optional documents are attempts, not warnings', async () => {
    const r = await discover(`${O}/backend`, opts);
    expect(r.attempts.filter((a) => a.outcome === 'not-found').length).toBeGreaterThanOrEqual(3);
    expect(codes(r).filter((c) => c.startsWith('DOCUMENT_'))).toEqual([]);
  });
});

describe('sloppy but usable documents', () => {
  it('keeps __proto__ keys from polluting prototypes', async () => {
    const r = await discover(`${O}/proto`, opts);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    expect(r.failure).toBeNull();
    expect(r.endpoints.token?.value).toBe(`${O}/proto/token`);
    const smart = r.documents['smart-configuration'] as Record<string, unknown>;
    expect(Object.getPrototypeOf(smart)).toBe(Object.prototype);
    expect(Object.hasOwn(smart, '__proto__')).toBe(false);
    expect(smart.polluted).toBeUndefined();
  });

  it('resolves relative endpoint URLs against the FHIR base (RELATIVE_URL) and drops non-http ones', async () => {
    const r = await discover(`${O}/relative`, opts);
    expect(r.failure).toBeNull();
    expect(r.endpoints.token?.value).toBe(`${O}/relative/oauth/token`);
    expect(r.endpoints.authorization?.value).toBe(`${O}/authorize`);
    expect(r.endpoints.registration).toBeUndefined();
    expect(withCode(r, 'RELATIVE_URL').map((w) => w.field).sort()).toEqual(['authorization_endpoint', 'token_endpoint']);
    expect(withCode(r, 'DOCUMENT_WRONG_SHAPE').map((w) => w.field)).toEqual(['registration_endpoint']);
  });

  it('does not take an unconfirmed SMART issuer on another site as the identity (ISSUER_UNVERIFIED); one on its own site it does', async () => {
    const r = await discover(`${O}/claims`, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBeNull();
    expect(withCode(r, 'ISSUER_UNVERIFIED')[0]?.message).toContain('https://fhir.other-hospital.example/oauth2');
    const own = await discover(`${O}/proto`, opts);
    expect(own.issuer).toBe(`${O}/proto`);
    expect(codes(own)).not.toContain('ISSUER_UNVERIFIED');
  });

  it('accepts a SMART document without issuer for a backend-only server', async () => {
    const r = await discover(`${O}/backend`, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBeNull();
    expect(r.endpoints.token).toEqual({ value: `${O}/backend/token`, source: 'smart-configuration', conflicts: [] });
    expect(codes(r)).not.toContain('SMART_REQUIRED_FIELD_MISSING');
    expect(codes(r)).not.toContain('INCONSISTENT_CAPABILITIES');
    expect(codes(r)).not.toContain('NO_PRIVATE_KEY_JWT');
    expect(codes(r)).toContain('NO_REGISTRATION_ENDPOINT');
  });

  it('reads a CapabilityStatement with only authorize and token, sent with Accept: application/fhir+json', async () => {
    const r = await discover(`${O}/caponly`, { ...opts, epicClientId: 'epic-client-1' });
    expect(r.failure).toBeNull();
    expect(r.endpoints).toEqual({
      authorization: { value: `${O}/caponly/authorize`, source: 'capability-statement', conflicts: [] },
      token: { value: `${O}/caponly/token`, source: 'capability-statement', conflicts: [] },
    });
    const [noReg] = withCode(r, 'NO_REGISTRATION_ENDPOINT');
    expect(noReg?.message).toMatch(/Epic client ID on the issuer page/);
    expect(codes(r)).toEqual(expect.arrayContaining(['S256_MISSING', 'NO_PRIVATE_KEY_JWT']));
    const metadataRequest = server.requests.find((q) => q.rest === '/metadata');
    expect(metadataRequest?.headers.accept).toBe('application/fhir+json');
    expect(metadataRequest?.headers['epic-client-id']).toBe('epic-client-1');
  });

  it('tolerates a byte-order mark and stray whitespace around the document and its values', async () => {
    const r = await discover(`${O}/bom`, opts);
    expect(r.failure).toBeNull();
    expect(r.endpoints.token?.value).toBe(`${O}/bom/token`);
    expect(r.endpoints.registration?.value).toBe(`${O}/bom/register`);
    expect(r.capabilities).toEqual(['launch-standalone', 'client-public', 'client-confidential-asymmetric', 'sso-openid-connect', 'permission-v2']);
    expect(r.scopesSupported).toEqual(['openid']);
    expect(r.issuer).toBe(`${O}/bom`);
    expect(codes(r)).not.toContain('UNKNOWN_CAPABILITY');
    expect(codes(r)).not.toContain('RELATIVE_URL');
    expect(codes(r)).not.toContain('DOCUMENT_NOT_JSON');
  });

  it('lists both token endpoints when SMART and OpenID disagree (ENDPOINT_CONFLICT)', async () => {
    const r = await discover(`${O}/conflict`, opts);
    expect(r.endpoints.token).toEqual({
      value: `${O}/conflict/token-a`,
      source: 'smart-configuration',
      conflicts: [{ value: `${O}/conflict/token-b`, source: 'openid-configuration' }],
    });
    const [w, ...more] = withCode(r, 'ENDPOINT_CONFLICT');
    expect(more).toEqual([]);
    expect(w).toMatchObject({ field: 'endpoints.token', severity: 'warning' });
    expect(w?.message).toContain('token-a');
    expect(w?.message).toContain('token-b');
  });

  it('flags legacy names, unknown capabilities, plain PKCE, cross-host endpoints and capability gaps', async () => {
    const r = await discover(`${O}/sloppy`, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBe(`${O}/sloppy`);
    expect(r.tokenEndpointAuthMethodsSupported).toEqual(['client_secret_basic']);
    expect(withCode(r, 'LEGACY_FIELD_NAME')).toMatchObject([{ severity: 'info', field: 'token_endpoint_auth_methods' }]);
    expect(withCode(r, 'UNKNOWN_CAPABILITY')).toHaveLength(1);
    expect(withCode(r, 'UNKNOWN_CAPABILITY')[0]).toMatchObject({ severity: 'info' });
    expect(withCode(r, 'UNKNOWN_CAPABILITY')[0]?.message).toContain('made-up-capability');
    expect(r.capabilities).toContain('https://example.org/capability/x');
    expect(withCode(r, 'SMART_REQUIRED_FIELD_MISSING').map((w) => w.field).sort()).toEqual(['grant_types_supported', 'jwks_uri']);
    expect(withCode(r, 'CROSS_HOST_ENDPOINT').map((w) => w.field)).toEqual(['endpoints.token']);
    expect(codes(r)).toEqual(expect.arrayContaining(['S256_MISSING', 'PLAIN_PKCE_OFFERED', 'NO_PRIVATE_KEY_JWT']));
    const inconsistent = withCode(r, 'INCONSISTENT_CAPABILITIES').map((w) => w.message);
    expect(inconsistent.some((m) => m.includes('token_endpoint_auth_signing_alg_values_supported'))).toBe(true);
    expect(inconsistent.some((m) => m.includes('lacks private_key_jwt'))).toBe(true);
    expect(inconsistent.some((m) => m.includes('jwks_uri'))).toBe(true);
  });
});

describe('UDAP', () => {
  it('verifies signed_metadata with its self-signed x5c leaf; signed values win over the plain JSON', async () => {
    const r = await discover(`${O}/udap-ok`, opts);
    expect(r.udap).toMatchObject({ present: true, signedMetadataPresent: true, signatureVerified: true, error: null });
    expect(r.udap?.claims).toMatchObject({ iss: `${O}/udap-ok`, registration_endpoint: `${O}/udap-ok/udap-register` });
    expect(withCode(r, 'UDAP_UNVERIFIED_TRUST')).toMatchObject([{ severity: 'info' }]);
    expect(codes(r)).not.toContain('UDAP_SIGNATURE_INVALID');
    // SMART wins the registration endpoint; UDAP's *signed* value (not the plain one) is the listed conflict.
    expect(r.endpoints.registration).toEqual({
      value: `${O}/udap-ok/register`,
      source: 'smart-configuration',
      conflicts: [{ value: `${O}/udap-ok/udap-register`, source: 'udap' }],
    });
  });

  it('a tampered signature is UDAP_SIGNATURE_INVALID and no UDAP value is used', async () => {
    const r = await discover(`${O}/udap-bad`, opts);
    expect(r.udap).toMatchObject({ present: true, signedMetadataPresent: true, signatureVerified: false });
    expect(r.udap?.error).toMatch(/does not verify/);
    expect(withCode(r, 'UDAP_SIGNATURE_INVALID')).toMatchObject([{ severity: 'error', document: 'udap' }]);
    expect(codes(r)).not.toContain('UDAP_UNVERIFIED_TRUST');
    expect(r.endpoints.registration).toEqual({ value: `${O}/udap-bad/register`, source: 'smart-configuration', conflicts: [] });
    expect(r.documents.udap).toBeDefined();
  });
});

describe('inputs and concurrency', () => {
  it.each([
    ['not a url', 'INVALID_URL'],
    ['https://h.example/fhir?tenant=1', 'INVALID_URL'],
    ['https://h.example/.well-known/something-else', 'INVALID_URL'],
    ['ftp://h.example/fhir', 'INSECURE_SCHEME'],
  ])('throws for an input that can never work: %s → %s', async (input, code) => {
    await expect(discover(input, opts)).rejects.toMatchObject({ code });
    expect(server.requests).toEqual([]);
  });

  it('throws BLOCKED_ADDRESS for an internal address without connecting', async () => {
    await expect(discover('https://10.11.12.13/fhir', { fetchInit: { policy: { allowlist: [] } } })).rejects.toMatchObject({
      code: 'BLOCKED_ADDRESS',
    });
  });

  it('rethrows a cancellation by the caller instead of reporting every document as unreachable', async () => {
    const controller = new AbortController();
    const pending = discover(`${O}/hang`, { ...opts, fetchInit: { ...opts.fetchInit, signal: controller.signal } });
    setTimeout(() => controller.abort(new Error('cancelled by the test')), 50);
    await expect(pending).rejects.toThrow('cancelled by the test');
  });

  it.each([1, 2, 4])('keeps at most %i requests in flight', async (concurrency) => {
    const r = await discover(`${O}/slow`, { ...opts, concurrency });
    expect(r.attempts).toHaveLength(5);
    expect(server.maxInFlight).toBe(concurrency);
  });
});
