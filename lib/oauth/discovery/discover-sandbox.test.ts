import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseAllowlist } from '@/lib/oauth/allowlist';
import { startSandbox, type Sandbox } from '@/sandbox';

import { discover, type DiscoverOptions, type DiscoveryResult } from './index';

let sandbox: Sandbox;
let opts: DiscoverOptions;

beforeAll(async () => {
  sandbox = await startSandbox({ tenants: 0, log: () => {} });
  const origins = [sandbox.general.origin, sandbox.mercy.origin, sandbox.epic.origin];
  opts = { fetchInit: { policy: { allowlist: parseAllowlist(origins.join(',')) } } };
});

afterAll(async () => {
  await sandbox?.stop();
});

const codes = (r: DiscoveryResult) => r.warnings.map((w) => w.code);
const sources = (r: DiscoveryResult) =>
  Object.fromEntries(Object.entries(r.endpoints).map(([name, v]) => [name, `${v.source} ${v.value}`]));

describe('General Hospital', () => {
  it('discovered from its FHIR base: SMART endpoints, registration, capabilities, issuer via OpenID', async () => {
    const { origin, fhirBase } = sandbox.general;
    const r = await discover(fhirBase, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBe(origin);
    expect(r.fhirBaseUrl).toBe(fhirBase);
    expect(sources(r)).toMatchObject({
      authorization: `smart-configuration ${origin}/auth`,
      token: `smart-configuration ${origin}/token`,
      registration: `smart-configuration ${origin}/reg`,
      management: `smart-configuration ${origin}/sandbox/manage`,
      jwks: `smart-configuration ${origin}/jwks`,
      introspection: `smart-configuration ${origin}/token/introspection`,
      revocation: `smart-configuration ${origin}/token/revocation`,
      userinfo: `openid-configuration ${origin}/me`,
    });
    for (const v of Object.values(r.endpoints)) expect(v.conflicts).toEqual([]);
    expect(r.capabilities).toEqual(expect.arrayContaining(['launch-ehr', 'client-confidential-asymmetric', 'permission-v1', 'permission-v2']));
    expect(r.tokenEndpointAuthMethodsSupported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
    expect(r.tokenEndpointAuthSigningAlgValuesSupported).toEqual(expect.arrayContaining(['RS384', 'ES384']));
    expect(r.codeChallengeMethodsSupported).toEqual(['S256']);
    expect(r.scopesSupported).toEqual(expect.arrayContaining(['patient/*.read', 'patient/*.rs', 'openid']));
    expect(Object.keys(r.documents).sort()).toEqual([
      'capability-statement',
      'oauth-authorization-server',
      'openid-configuration',
      'smart-configuration',
    ]);
    expect(r.udap).toEqual({ present: false, signedMetadataPresent: false, signatureVerified: null, claims: null, error: null });
    expect(codes(r)).toContain('HTTP_ENDPOINT');
    expect(codes(r)).not.toContain('NO_REGISTRATION_ENDPOINT');
    expect(codes(r)).not.toContain('NO_PRIVATE_KEY_JWT');
    expect(codes(r)).not.toContain('ENDPOINT_CONFLICT');
    expect(codes(r)).not.toContain('S256_MISSING');
    expect(codes(r)).not.toContain('INCONSISTENT_CAPABILITIES');
    // Only plain-http advice: nothing is wrong with General's documents.
    expect(new Set(codes(r))).toEqual(new Set(['HTTP_ENDPOINT']));
    // SMART, metadata, UDAP and the base-as-issuer pair first; then the SMART issuer.
    expect(r.attempts.map((a) => `${a.kind} ${a.outcome}`)).toEqual([
      'smart-configuration found',
      'capability-statement found',
      'udap not-found',
      'openid-configuration not-found',
      'oauth-authorization-server not-found',
      'openid-configuration found',
      'oauth-authorization-server found',
    ]);
    expect(r.attempts[5]?.url).toBe(`${origin}/.well-known/openid-configuration`);
    expect(r.attempts[6]?.url).toBe(`${origin}/.well-known/oauth-authorization-server`);
  });

  it('discovered from its issuer: OpenID endpoints, registration, no SMART capabilities', async () => {
    const { origin } = sandbox.general;
    const r = await discover(origin, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBe(origin);
    expect(r.fhirBaseUrl).toBeNull();
    expect(sources(r)).toMatchObject({
      authorization: `openid-configuration ${origin}/auth`,
      token: `openid-configuration ${origin}/token`,
      registration: `openid-configuration ${origin}/reg`,
      jwks: `openid-configuration ${origin}/jwks`,
    });
    expect(r.endpoints.management).toBeUndefined();
    expect(r.capabilities).toEqual([]);
    expect(r.tokenEndpointAuthMethodsSupported).toEqual(expect.arrayContaining(['private_key_jwt', 'client_secret_basic']));
    expect(codes(r)).toContain('HTTP_ENDPOINT');
    expect(codes(r)).not.toContain('NO_REGISTRATION_ENDPOINT');
    expect(codes(r)).not.toContain('NO_PRIVATE_KEY_JWT');
  });
});

describe('Mercy Health', () => {
  it('discovered from its FHIR base: private_key_jwt with RS384/ES384, v2 scopes only', async () => {
    const { origin, fhirBase } = sandbox.mercy;
    const r = await discover(fhirBase, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBe(origin);
    expect(r.endpoints.registration).toEqual({ value: `${origin}/reg`, source: 'smart-configuration', conflicts: [] });
    expect(r.endpoints.token?.source).toBe('smart-configuration');
    expect(r.tokenEndpointAuthMethodsSupported).toEqual(['private_key_jwt', 'client_secret_basic', 'none']);
    expect(r.tokenEndpointAuthSigningAlgValuesSupported).toEqual(['RS384', 'ES384']);
    expect(r.capabilities).toContain('permission-v2');
    expect(r.capabilities).not.toContain('permission-v1');
    expect(r.scopesSupported).toContain('patient/*.rs');
    expect(r.scopesSupported).not.toContain('patient/*.read');
    expect(new Set(codes(r))).toEqual(new Set(['HTTP_ENDPOINT']));
  });

  it('discovered from its issuer: the same token and registration endpoints, from OpenID', async () => {
    const { origin } = sandbox.mercy;
    const r = await discover(origin, opts);
    expect(r.failure).toBeNull();
    expect(r.endpoints.token).toEqual({ value: `${origin}/token`, source: 'openid-configuration', conflicts: [] });
    expect(r.endpoints.registration).toEqual({ value: `${origin}/reg`, source: 'openid-configuration', conflicts: [] });
    expect(r.tokenEndpointAuthSigningAlgValuesSupported).toEqual(expect.arrayContaining(['RS384', 'ES384']));
    expect(codes(r)).not.toContain('NO_PRIVATE_KEY_JWT');
  });
});

describe('Epic-like', () => {
  it('discovered from its FHIR base without an Epic client ID: no registration endpoint', async () => {
    const { origin, fhirBase, issuer } = sandbox.epic;
    const r = await discover(fhirBase, opts);
    expect(r.failure).toBeNull();
    expect(r.issuer).toBe(issuer);
    expect(r.fhirBaseUrl).toBe(fhirBase);
    expect(r.endpoints.token).toEqual({ value: `${origin}/oauth2/token`, source: 'smart-configuration', conflicts: [] });
    expect(r.endpoints.registration).toBeUndefined();
    expect(codes(r)).toContain('NO_REGISTRATION_ENDPOINT');
    expect(r.capabilities).toContain('permission-v1');
    // The FHIR base is not the issuer: the SMART document's issuer (.../oauth2) is where OpenID metadata lives.
    expect(r.attempts.filter((a) => a.outcome === 'found').map((a) => a.url)).toEqual([
      `${fhirBase}/.well-known/smart-configuration`,
      `${fhirBase}/metadata`,
      `${issuer}/.well-known/openid-configuration`,
      `${origin}/.well-known/oauth-authorization-server/oauth2`,
    ]);
  });

  it('discovered from its FHIR base with an Epic client ID: register appears, agreed by all documents', async () => {
    const { origin, fhirBase } = sandbox.epic;
    const r = await discover(fhirBase, { ...opts, epicClientId: ' abc-123 ' });
    expect(r.failure).toBeNull();
    expect(r.endpoints.registration).toEqual({ value: `${origin}/oauth2/register`, source: 'smart-configuration', conflicts: [] });
    expect(codes(r)).not.toContain('NO_REGISTRATION_ENDPOINT');
    expect(codes(r)).not.toContain('ENDPOINT_CONFLICT');
    const cs = r.documents['capability-statement'] as { rest: Array<{ security: { extension: Array<{ extension: Array<{ url: string }> }> } }> };
    expect(cs.rest[0]?.security.extension[0]?.extension.map((e) => e.url)).toContain('register');
  });

  it('discovered from its issuer (.../oauth2): registration only with the Epic client ID', async () => {
    const { origin, issuer } = sandbox.epic;
    const without = await discover(issuer, opts);
    expect(without.failure).toBeNull();
    expect(without.issuer).toBe(issuer);
    expect(without.endpoints.token).toEqual({ value: `${origin}/oauth2/token`, source: 'openid-configuration', conflicts: [] });
    expect(without.endpoints.registration).toBeUndefined();
    expect(codes(without)).toContain('NO_REGISTRATION_ENDPOINT');

    const withId = await discover(issuer, { ...opts, epicClientId: 'abc-123' });
    expect(withId.endpoints.registration).toEqual({ value: `${origin}/oauth2/register`, source: 'openid-configuration', conflicts: [] });
    expect(withId.tokenEndpointAuthMethodsSupported).toContain('private_key_jwt');
    expect(new Set(codes(withId))).toEqual(new Set(['HTTP_ENDPOINT']));
  });
});

describe('input checks', () => {
  it('refuses plain http when the outbound allowlist does not allow it (INSECURE_SCHEME), without a result', async () => {
    await expect(discover(sandbox.general.fhirBase, { fetchInit: { policy: { allowlist: [] } } })).rejects.toMatchObject({
      code: 'INSECURE_SCHEME',
    });
  });
});
