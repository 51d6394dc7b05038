import 'server-only';

import type { DiscoveryWarning, DocumentKind, EndpointName } from './types';
import { warning } from './warnings';

/** The list-valued metadata the registrar reads. */
export const LIST_FIELDS = ['scopes', 'grantTypes', 'responseTypes', 'authMethods', 'signingAlgs', 'pkceMethods'] as const;
export type ListField = (typeof LIST_FIELDS)[number];

const LIST_MEMBERS: Record<ListField, string> = {
  scopes: 'scopes_supported',
  grantTypes: 'grant_types_supported',
  responseTypes: 'response_types_supported',
  authMethods: 'token_endpoint_auth_methods_supported',
  signingAlgs: 'token_endpoint_auth_signing_alg_values_supported',
  pkceMethods: 'code_challenge_methods_supported',
};

/** One accepted document, reduced to the values the merge needs (strings trimmed, not yet resolved). */
export type NormalizedDocument = {
  kind: DocumentKind;
  url: string;
  issuer?: string;
  endpoints: Partial<Record<EndpointName, string>>;
  /** Where each endpoint came from in the document, for messages (e.g. `token_endpoint`, `oauth-uris#token`). */
  endpointFields: Partial<Record<EndpointName, string>>;
  lists: Partial<Record<ListField, string[]>>;
  capabilities?: string[];
  /** Base for relative endpoint URLs when no FHIR base is known. */
  relativeBase: string | null;
};

export type Normalized = { ok: true; doc: NormalizedDocument } | { ok: false; warning: DiscoveryWarning };

export const DOCUMENT_LABEL: Record<DocumentKind, string> = {
  'smart-configuration': 'SMART configuration',
  'capability-statement': 'CapabilityStatement',
  'openid-configuration': 'OpenID configuration',
  'oauth-authorization-server': 'OAuth (RFC 8414) metadata',
  udap: 'UDAP metadata',
};

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  return `a ${typeof value}`;
}

/** Reads members tolerantly (trims, drops blanks) and reports wrong types as warnings. */
class MemberReader {
  constructor(
    private readonly kind: DocumentKind,
    private readonly url: string,
    private readonly obj: JsonObject,
    private readonly warnings: DiscoveryWarning[],
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.obj, key) && this.obj[key] !== null && this.obj[key] !== undefined;
  }

  string(key: string): string | undefined {
    if (!Object.hasOwn(this.obj, key)) return undefined;
    const value = this.obj[key];
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string') {
      this.wrong(key, `must be a string but is ${describeJsonType(value)}; it was ignored`);
      return undefined;
    }
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  list(key: string): string[] | undefined {
    if (!Object.hasOwn(this.obj, key)) return undefined;
    const value = this.obj[key];
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'string') {
      this.wrong(key, 'must be an array of strings but is one string; it was split on spaces', 'info');
      return dedupe(value.split(/\s+/));
    }
    if (!Array.isArray(value)) {
      this.wrong(key, `must be an array of strings but is ${describeJsonType(value)}; it was ignored`);
      return undefined;
    }
    const strings = value.filter((item): item is string => typeof item === 'string');
    if (strings.length !== value.length) this.wrong(key, 'contains items that are not strings; they were ignored');
    return dedupe(strings);
  }

  private wrong(key: string, problem: string, severity?: 'info'): void {
    this.warnings.push(
      warning('DOCUMENT_WRONG_SHAPE', `${DOCUMENT_LABEL[this.kind]} at ${this.url}: "${key}" ${problem}.`, {
        document: this.kind,
        field: key,
        ...(severity ? { severity } : {}),
      }),
    );
  }
}

function dedupe(values: string[]): string[] {
  const out: string[] = [];
  for (const raw of values) {
    const value = raw.trim();
    if (value !== '' && !out.includes(value)) out.push(value);
  }
  return out;
}

function wrongShape(kind: DocumentKind, url: string, problem: string): Normalized {
  return {
    ok: false,
    warning: warning('DOCUMENT_WRONG_SHAPE', `${DOCUMENT_LABEL[kind]} at ${url} ${problem}; it was ignored.`, { document: kind }),
  };
}

function readLists(reader: MemberReader): Partial<Record<ListField, string[]>> {
  const lists: Partial<Record<ListField, string[]>> = {};
  for (const field of LIST_FIELDS) {
    const value = reader.list(LIST_MEMBERS[field]);
    if (value !== undefined) lists[field] = value;
  }
  return lists;
}

function readEndpoints(
  reader: MemberReader,
  members: ReadonlyArray<readonly [EndpointName, string]>,
): Pick<NormalizedDocument, 'endpoints' | 'endpointFields'> {
  const endpoints: Partial<Record<EndpointName, string>> = {};
  const endpointFields: Partial<Record<EndpointName, string>> = {};
  for (const [name, member] of members) {
    const value = reader.string(member);
    if (value !== undefined) {
      endpoints[name] = value;
      endpointFields[name] = member;
    }
  }
  return { endpoints, endpointFields };
}

// ---------------------------------------------------------------------------------------------
// SMART App Launch 2.2 `.well-known/smart-configuration`

const SMART_ENDPOINTS = [
  ['authorization', 'authorization_endpoint'],
  ['token', 'token_endpoint'],
  ['registration', 'registration_endpoint'],
  ['management', 'management_endpoint'],
  ['jwks', 'jwks_uri'],
  ['introspection', 'introspection_endpoint'],
  ['revocation', 'revocation_endpoint'],
] as const;

/** SMART App Launch 2.2 §Metadata: required members, with issuer and jwks_uri required only with sso-openid-connect. */
export function normalizeSmartConfiguration(json: unknown, url: string, base: string, warnings: DiscoveryWarning[]): Normalized {
  const kind = 'smart-configuration';
  if (!isJsonObject(json)) return wrongShape(kind, url, `is ${describeJsonType(json)}, not a JSON object`);
  const reader = new MemberReader(kind, url, json, warnings);
  const lists = readLists(reader);
  if (lists.authMethods === undefined) {
    // SMART v1 servers used the name without "_supported".
    const legacy = reader.list('token_endpoint_auth_methods');
    if (legacy !== undefined) {
      lists.authMethods = legacy;
      warnings.push(
        warning(
          'LEGACY_FIELD_NAME',
          `SMART configuration at ${url} uses the SMART v1 name "token_endpoint_auth_methods"; it was read as token_endpoint_auth_methods_supported.`,
          { document: kind, field: 'token_endpoint_auth_methods' },
        ),
      );
    }
  }
  const capabilities = reader.list('capabilities');
  const doc: NormalizedDocument = {
    kind,
    url,
    ...readEndpoints(reader, SMART_ENDPOINTS),
    lists,
    ...(capabilities !== undefined ? { capabilities } : {}),
    relativeBase: base,
  };
  const issuer = reader.string('issuer');
  if (issuer !== undefined) doc.issuer = issuer;

  const missing = (member: string, why: string) =>
    warnings.push(
      warning('SMART_REQUIRED_FIELD_MISSING', `SMART configuration at ${url} has no "${member}"${why}.`, { document: kind, field: member }),
    );
  if (doc.endpoints.token === undefined) missing('token_endpoint', '');
  if (lists.grantTypes === undefined) missing('grant_types_supported', '');
  if (capabilities === undefined) missing('capabilities', '');
  if (lists.pkceMethods === undefined) missing('code_challenge_methods_supported', '');
  const caps = capabilities ?? [];
  if (caps.includes('sso-openid-connect')) {
    if (doc.issuer === undefined) missing('issuer', ', which is required with the sso-openid-connect capability');
    if (doc.endpoints.jwks === undefined) missing('jwks_uri', ', which is required with the sso-openid-connect capability');
  }
  if ((caps.includes('launch-ehr') || caps.includes('launch-standalone')) && doc.endpoints.authorization === undefined) {
    missing('authorization_endpoint', ', which is required with the launch-ehr or launch-standalone capability');
  }
  return { ok: true, doc };
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect Discovery 1.0 and RFC 8414

const ISSUER_DOC_ENDPOINTS = [
  ['authorization', 'authorization_endpoint'],
  ['token', 'token_endpoint'],
  ['registration', 'registration_endpoint'],
  ['jwks', 'jwks_uri'],
  ['introspection', 'introspection_endpoint'],
  ['revocation', 'revocation_endpoint'],
  ['userinfo', 'userinfo_endpoint'],
] as const;

/**
 * OIDC Discovery §4.3 / RFC 8414 §3.3: the `issuer` in the document must be identical to the issuer
 * the document was requested for. `expectedIssuer === null` (a well-known URL entered by the user)
 * skips the comparison; the caller warns about that.
 */
export function normalizeIssuerDocument(
  kind: 'openid-configuration' | 'oauth-authorization-server',
  json: unknown,
  url: string,
  /** The issuer the document was requested for; with several, any of them (a well-known URL entered by the user). */
  expectedIssuer: string | readonly string[] | null,
  warnings: DiscoveryWarning[],
): Normalized {
  if (!isJsonObject(json)) return wrongShape(kind, url, `is ${describeJsonType(json)}, not a JSON object`);
  const issuerValue = Object.hasOwn(json, 'issuer') ? json.issuer : undefined;
  if (typeof issuerValue !== 'string' || issuerValue === '') {
    return wrongShape(kind, url, 'has no "issuer" string, so it cannot be tied to an authorization server');
  }
  const expected = expectedIssuer === null ? null : typeof expectedIssuer === 'string' ? [expectedIssuer] : expectedIssuer;
  if (expected !== null && !expected.includes(issuerValue)) {
    return {
      ok: false,
      warning: warning(
        'ISSUER_MISMATCH',
        `${DOCUMENT_LABEL[kind]} at ${url} says its issuer is "${issuerValue}", but it was requested for ${expected.map((e) => `"${e}"`).join(' or ')}; ` +
          'the two must be identical byte for byte, so the document was not used. If the server is right, enter its issuer exactly as it states it.',
        { document: kind, field: 'issuer' },
      ),
    };
  }
  const reader = new MemberReader(kind, url, json, warnings);
  return {
    ok: true,
    doc: {
      kind,
      url,
      // Exactly as the document states it (not trimmed): it is compared byte for byte with token `iss` values.
      issuer: issuerValue,
      ...readEndpoints(reader, ISSUER_DOC_ENDPOINTS),
      lists: readLists(reader),
      relativeBase: typeof expectedIssuer === 'string' ? expectedIssuer : issuerValue,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// FHIR CapabilityStatement with the SMART (v1) oauth-uris extension

export const OAUTH_URIS_EXTENSION = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

const OAUTH_URIS: Record<string, EndpointName> = {
  authorize: 'authorization',
  token: 'token',
  register: 'registration',
  manage: 'management',
  introspect: 'introspection',
  revoke: 'revocation',
};

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** SMART v1: `CapabilityStatement.rest[].security.extension[oauth-uris].extension[]` (valueUri). */
export function normalizeCapabilityStatement(json: unknown, url: string, base: string, warnings: DiscoveryWarning[]): Normalized {
  const kind = 'capability-statement';
  if (!isJsonObject(json)) return wrongShape(kind, url, `is ${describeJsonType(json)}, not a JSON object`);
  const resourceType = Object.hasOwn(json, 'resourceType') ? json.resourceType : undefined;
  if (resourceType !== 'CapabilityStatement') {
    return wrongShape(
      kind,
      url,
      `has resourceType ${typeof resourceType === 'string' ? `"${resourceType}"` : 'missing'}, not "CapabilityStatement"`,
    );
  }
  const endpoints: Partial<Record<EndpointName, string>> = {};
  const endpointFields: Partial<Record<EndpointName, string>> = {};
  for (const rest of asArray(json.rest)) {
    if (!isJsonObject(rest) || !isJsonObject(rest.security)) continue;
    for (const ext of asArray(rest.security.extension)) {
      if (!isJsonObject(ext) || typeof ext.url !== 'string' || ext.url.trim() !== OAUTH_URIS_EXTENSION) continue;
      for (const sub of asArray(ext.extension)) {
        if (!isJsonObject(sub) || typeof sub.url !== 'string') continue;
        const name = Object.hasOwn(OAUTH_URIS, sub.url.trim()) ? OAUTH_URIS[sub.url.trim()] : undefined;
        if (name === undefined || endpoints[name] !== undefined) continue;
        // valueUri per the SMART profile; valueUrl tolerated (some servers use the R4 url type).
        const value = typeof sub.valueUri === 'string' ? sub.valueUri : typeof sub.valueUrl === 'string' ? sub.valueUrl : undefined;
        if (value === undefined) {
          warnings.push(
            warning('DOCUMENT_WRONG_SHAPE', `CapabilityStatement at ${url}: oauth-uris "${sub.url.trim()}" has no valueUri; it was ignored.`, {
              document: kind,
              field: `oauth-uris#${sub.url.trim()}`,
            }),
          );
          continue;
        }
        if (value.trim() === '') continue;
        endpoints[name] = value.trim();
        endpointFields[name] = `oauth-uris#${sub.url.trim()}`;
      }
    }
  }
  return { ok: true, doc: { kind, url, endpoints, endpointFields, lists: {}, relativeBase: base } };
}

// ---------------------------------------------------------------------------------------------
// UDAP `.well-known/udap`

const UDAP_ENDPOINTS = [
  ['authorization', 'authorization_endpoint'],
  ['token', 'token_endpoint'],
  ['registration', 'registration_endpoint'],
] as const;

const UDAP_LISTS: ReadonlyArray<readonly [ListField, string]> = [
  ['scopes', 'scopes_supported'],
  ['grantTypes', 'grant_types_supported'],
  ['authMethods', 'token_endpoint_auth_methods_supported'],
  ['signingAlgs', 'token_endpoint_auth_signing_alg_values_supported'],
];

/**
 * UDAP values from the plain JSON, overridden member by member by the verified signed_metadata
 * claims (UDAP Server Metadata: signed values win). `signedClaims` null = use the plain JSON only.
 */
export function normalizeUdap(
  json: JsonObject,
  url: string,
  base: string,
  signedClaims: JsonObject | null,
  warnings: DiscoveryWarning[],
): NormalizedDocument {
  const kind = 'udap';
  const plain = new MemberReader(kind, url, json, warnings);
  const signed = signedClaims ? new MemberReader(kind, `${url} (signed_metadata)`, signedClaims, warnings) : null;
  const endpoints: Partial<Record<EndpointName, string>> = {};
  const endpointFields: Partial<Record<EndpointName, string>> = {};
  for (const [name, member] of UDAP_ENDPOINTS) {
    const fromSigned = signed?.string(member);
    const value = fromSigned ?? plain.string(member);
    if (value !== undefined) {
      endpoints[name] = value;
      endpointFields[name] = fromSigned !== undefined ? `signed_metadata.${member}` : member;
    }
  }
  const lists: Partial<Record<ListField, string[]>> = {};
  for (const [field, member] of UDAP_LISTS) {
    const value = signed?.list(member) ?? plain.list(member);
    if (value !== undefined) lists[field] = value;
  }
  return { kind, url, endpoints, endpointFields, lists, relativeBase: base };
}
