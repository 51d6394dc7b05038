import { describe, expect, it } from 'vitest';

import { createLimiter } from './fetch-document';
import {
  describePrecedence,
  diffDiscoveries,
  DOCUMENT_KINDS,
  type DiscoveryResult,
  ENDPOINT_NAMES,
  MERGE_PRECEDENCE,
  WARNING_CODES,
  WARNING_HELP,
} from './index';
import {
  epicOauthBase,
  oauthAuthorizationServerUrl,
  openidConfigurationUrl,
  parseDiscoveryInput,
  resolveEndpointUrl,
  smartConfigurationUrl,
} from './urls';

function result(overrides: Partial<DiscoveryResult> = {}): DiscoveryResult {
  return {
    input: 'https://as.example/fhir',
    issuer: 'https://as.example',
    fhirBaseUrl: 'https://as.example/fhir',
    endpoints: {
      token: { value: 'https://as.example/token', source: 'smart-configuration', conflicts: [] },
      registration: { value: 'https://as.example/reg', source: 'smart-configuration', conflicts: [] },
      authorization: { value: 'https://as.example/auth', source: 'smart-configuration', conflicts: [] },
    },
    scopesSupported: ['openid', 'patient/*.rs'],
    grantTypesSupported: ['authorization_code'],
    responseTypesSupported: ['code'],
    tokenEndpointAuthMethodsSupported: ['private_key_jwt'],
    tokenEndpointAuthSigningAlgValuesSupported: ['RS384'],
    codeChallengeMethodsSupported: ['S256'],
    capabilities: ['launch-standalone'],
    udap: null,
    documents: {},
    attempts: [],
    warnings: [],
    failure: null,
    discoveredAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe('diffDiscoveries', () => {
  it('a changed token endpoint needs attention', () => {
    const before = result();
    const after = result({
      endpoints: { ...before.endpoints, token: { value: 'https://as.example/oauth/token', source: 'smart-configuration', conflicts: [] } },
    });
    expect(diffDiscoveries(before, after)).toEqual([
      { field: 'endpoints.token', before: 'https://as.example/token', after: 'https://as.example/oauth/token', attention: true },
    ]);
  });

  it('a removed registration endpoint needs attention', () => {
    const before = result();
    const { registration: _gone, ...rest } = before.endpoints;
    expect(diffDiscoveries(before, result({ endpoints: rest }))).toEqual([
      { field: 'endpoints.registration', before: 'https://as.example/reg', after: null, attention: true },
    ]);
  });

  it('an added scope is reported without attention; list order is not a change', () => {
    const before = result();
    const after = result({ scopesSupported: ['patient/*.rs', 'openid', 'system/*.rs'], capabilities: ['launch-standalone'] });
    expect(diffDiscoveries(before, after)).toEqual([
      { field: 'scopesSupported', before: ['openid', 'patient/*.rs'], after: ['openid', 'patient/*.rs', 'system/*.rs'], attention: false },
    ]);
    expect(diffDiscoveries(before, result({ scopesSupported: ['patient/*.rs', 'openid'] }))).toEqual([]);
  });

  it('a changed authorization endpoint or auth method list is reported without attention', () => {
    const before = result();
    const after = result({
      endpoints: { ...before.endpoints, authorization: { value: 'https://as.example/authorize', source: 'smart-configuration', conflicts: [] } },
      tokenEndpointAuthMethodsSupported: ['client_secret_basic'],
    });
    const diff = diffDiscoveries(before, after);
    expect(diff.map((d) => [d.field, d.attention])).toEqual([
      ['endpoints.authorization', false],
      ['tokenEndpointAuthMethodsSupported', false],
    ]);
  });

  it('a first discovery lists what it found, without attention', () => {
    const diff = diffDiscoveries(null, result());
    expect(diff.find((d) => d.field === 'endpoints.token')).toEqual({
      field: 'endpoints.token',
      before: null,
      after: 'https://as.example/token',
      attention: false,
    });
    expect(diff.every((d) => !d.attention)).toBe(true);
  });

  it('identical discoveries have no differences', () => {
    expect(diffDiscoveries(result(), result({ discoveredAt: '2026-02-01T00:00:00.000Z' }))).toEqual([]);
  });
});

describe('precedence and warning catalogue', () => {
  it('describes every field with an order and a reason, from MERGE_PRECEDENCE', () => {
    const rows = describePrecedence();
    expect(rows.map((r) => r.field)).toEqual([...ENDPOINT_NAMES, 'metadata']);
    for (const row of rows) {
      expect(row.order).toEqual(MERGE_PRECEDENCE[row.field as keyof typeof MERGE_PRECEDENCE]);
      expect(row.why.length).toBeGreaterThan(20);
      for (const kind of row.order) expect(DOCUMENT_KINDS).toContain(kind);
    }
    expect(MERGE_PRECEDENCE.token).toEqual(['smart-configuration', 'openid-configuration', 'oauth-authorization-server', 'capability-statement', 'udap']);
  });

  it('has a plain sentence for every warning code', () => {
    expect(Object.keys(WARNING_HELP).sort()).toEqual([...WARNING_CODES].sort());
    for (const code of WARNING_CODES) expect(WARNING_HELP[code].help).toMatch(/\.$/);
  });
});

describe('discovery URLs', () => {
  it('appends the SMART path to a FHIR base with a path, after stripping one trailing slash', () => {
    expect(smartConfigurationUrl('https://h/interconnect-fhir-oauth/api/FHIR/R4')).toBe(
      'https://h/interconnect-fhir-oauth/api/FHIR/R4/.well-known/smart-configuration',
    );
    expect(smartConfigurationUrl('https://h/fhir/')).toBe('https://h/fhir/.well-known/smart-configuration');
  });

  it('appends the OpenID path to the issuer and inserts the RFC 8414 path before the issuer path', () => {
    expect(openidConfigurationUrl('https://h/tenant/')).toBe('https://h/tenant/.well-known/openid-configuration');
    expect(oauthAuthorizationServerUrl('https://h/x/oauth2')).toBe('https://h/.well-known/oauth-authorization-server/x/oauth2');
    expect(oauthAuthorizationServerUrl('https://h/x/oauth2/')).toBe('https://h/.well-known/oauth-authorization-server/x/oauth2');
    expect(oauthAuthorizationServerUrl('https://h')).toBe('https://h/.well-known/oauth-authorization-server');
  });

  it('derives the Epic OAuth base from its token or authorize endpoint only', () => {
    expect(epicOauthBase('https://h/interconnect/oauth2/token')).toBe('https://h/interconnect/oauth2');
    expect(epicOauthBase('https://h/oauth2/authorize')).toBe('https://h/oauth2');
    expect(epicOauthBase('https://h/connect/token')).toBeNull();
    expect(epicOauthBase('relative/oauth2/token')).toBeNull();
  });

  it('resolves relative endpoints against the base as a directory and refuses non-http schemes', () => {
    expect(resolveEndpointUrl('token', 'https://h/fhir')).toEqual({ ok: true, url: 'https://h/fhir/token', relative: true });
    expect(resolveEndpointUrl('/token', 'https://h/fhir')).toEqual({ ok: true, url: 'https://h/token', relative: true });
    expect(resolveEndpointUrl('https://h/Token', null)).toEqual({ ok: true, url: 'https://h/Token', relative: false });
    expect(resolveEndpointUrl('javascript:alert(1)', 'https://h')).toMatchObject({ ok: false });
    expect(resolveEndpointUrl('https://user:pw@h/token', 'https://h')).toMatchObject({ ok: false });
  });

  it('classifies the input: base, SMART well-known, OpenID well-known', () => {
    expect(parseDiscoveryInput('  https://h/fhir/ ')).toEqual({ mode: 'base', input: 'https://h/fhir/', base: 'https://h/fhir' });
    expect(parseDiscoveryInput('https://h/fhir/.well-known/smart-configuration')).toEqual({
      mode: 'base-from-well-known',
      input: 'https://h/fhir/.well-known/smart-configuration',
      base: 'https://h/fhir',
      kind: 'smart-configuration',
    });
    expect(parseDiscoveryInput('https://h/.well-known/oauth-authorization-server/t1')).toMatchObject({
      mode: 'issuer-document',
      kind: 'oauth-authorization-server',
      issuers: ['https://h/t1', 'https://h/t1/'],
    });
    // The issuer each well-known URL belongs to: appended (OpenID) and inserted (RFC 8414) forms.
    expect(parseDiscoveryInput('https://h/.well-known/openid-configuration')).toMatchObject({ issuers: ['https://h', 'https://h/'] });
    expect(parseDiscoveryInput('https://h/tenant/.well-known/openid-configuration')).toMatchObject({ issuers: ['https://h/tenant', 'https://h/tenant/'] });
    expect(parseDiscoveryInput('https://h/tenant/.well-known/oauth-authorization-server')).toMatchObject({ issuers: ['https://h/tenant', 'https://h/tenant/'] });
    expect(parseDiscoveryInput('https://h/.well-known/oauth-authorization-server')).toMatchObject({ issuers: ['https://h', 'https://h/'] });
    // Positions come from the parsed URL, not the text typed: a Unicode host, upper case, a default port.
    expect(parseDiscoveryInput('https://bücher.example/.well-known/openid-configuration')).toMatchObject({ mode: 'issuer-document', issuers: ['https://xn--bcher-kva.example', 'https://xn--bcher-kva.example/'] });
    expect(parseDiscoveryInput('https://AS.example.com:443/.well-known/oauth-authorization-server/t1')).toMatchObject({ issuers: ['https://as.example.com/t1', 'https://as.example.com/t1/'] });
    expect(parseDiscoveryInput('https://bücher.example/fhir/.well-known/smart-configuration')).toMatchObject({ mode: 'base-from-well-known', base: 'https://xn--bcher-kva.example/fhir' });
    // A path on both sides of the name belongs to no issuer.
    expect(() => parseDiscoveryInput('https://h/x/.well-known/oauth-authorization-server/y')).toThrow(expect.objectContaining({ code: 'INVALID_URL', message: expect.stringMatching(/not the discovery address of any issuer/) }));
    expect(() => parseDiscoveryInput('https://user:pw@h/fhir')).toThrow(expect.objectContaining({ code: 'INVALID_URL' }));
    expect(() => parseDiscoveryInput('')).toThrow(expect.objectContaining({ code: 'INVALID_URL' }));
  });
});

describe('createLimiter', () => {
  it('never runs more than max tasks at once, including tasks queued while others finish', async () => {
    const limit = createLimiter(2);
    let active = 0;
    let peak = 0;
    const task = async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    const first = Array.from({ length: 5 }, () => limit(task));
    // Newcomers arriving while the first batch is being handed over.
    await new Promise((r) => setTimeout(r, 6));
    const late = Array.from({ length: 5 }, () => limit(task));
    await Promise.all([...first, ...late]);
    expect(peak).toBe(2);
  });
});
