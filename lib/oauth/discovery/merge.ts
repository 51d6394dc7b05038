import 'server-only';

import { DOCUMENT_LABEL, type ListField, type NormalizedDocument } from './parse';
import { MERGE_PRECEDENCE } from './precedence';
import {
  type DiscoveryWarning,
  type DocumentKind,
  ENDPOINT_NAMES,
  type EndpointName,
  type SourcedValue,
} from './types';
import { hostOf, resolveEndpointUrl } from './urls';
import { warning } from './warnings';

export type Merged = {
  endpoints: Partial<Record<EndpointName, SourcedValue>>;
  lists: Record<ListField, string[]>;
  capabilities: string[];
};

const ENDPOINT_LABEL: Record<EndpointName, string> = {
  authorization: 'authorization endpoint',
  token: 'token endpoint',
  registration: 'registration endpoint',
  management: 'management endpoint',
  jwks: 'JWKS URI',
  introspection: 'introspection endpoint',
  revocation: 'revocation endpoint',
  userinfo: 'userinfo endpoint',
};

/**
 * Merges accepted documents field by field with MERGE_PRECEDENCE. A different value from a
 * lower-precedence document is never dropped silently: it is listed in `conflicts` and warned about.
 */
export function mergeDocuments(
  docs: ReadonlyMap<DocumentKind, NormalizedDocument>,
  fhirBase: string | null,
  warnings: DiscoveryWarning[],
): Merged {
  const resolved = new Map<DocumentKind, Partial<Record<EndpointName, string>>>();
  for (const doc of docs.values()) resolved.set(doc.kind, resolveDocumentEndpoints(doc, fhirBase, warnings));

  const endpoints: Partial<Record<EndpointName, SourcedValue>> = {};
  for (const name of ENDPOINT_NAMES) {
    const offered = MERGE_PRECEDENCE[name].flatMap((kind) => {
      const value = resolved.get(kind)?.[name];
      return value === undefined ? [] : [{ value, source: kind }];
    });
    const [winner, ...others] = offered;
    if (!winner) continue;
    const conflicts = others.filter((o) => o.value !== winner.value);
    endpoints[name] = { value: winner.value, source: winner.source, conflicts };
    if (conflicts.length > 0) {
      const listed = conflicts.map((c) => `${DOCUMENT_LABEL[c.source]} says ${c.value}`).join('; ');
      warnings.push(
        warning(
          'ENDPOINT_CONFLICT',
          `The documents disagree on the ${ENDPOINT_LABEL[name]}: using ${winner.value} from the ${DOCUMENT_LABEL[winner.source]}, but ${listed}.`,
          { document: winner.source, field: `endpoints.${name}` },
        ),
      );
    }
  }

  const lists = {} as Record<ListField, string[]>;
  for (const field of ['scopes', 'grantTypes', 'responseTypes', 'authMethods', 'signingAlgs', 'pkceMethods'] as const) {
    const from = MERGE_PRECEDENCE.metadata.map((kind) => docs.get(kind)?.lists[field]).find((list) => list !== undefined);
    lists[field] = from ? [...from] : [];
  }
  const capabilities = [...(docs.get('smart-configuration')?.capabilities ?? [])];
  return { endpoints, lists, capabilities };
}

function resolveDocumentEndpoints(
  doc: NormalizedDocument,
  fhirBase: string | null,
  warnings: DiscoveryWarning[],
): Partial<Record<EndpointName, string>> {
  const out: Partial<Record<EndpointName, string>> = {};
  const base = fhirBase ?? doc.relativeBase;
  for (const name of ENDPOINT_NAMES) {
    const raw = doc.endpoints[name];
    if (raw === undefined) continue;
    const field = doc.endpointFields[name] ?? name;
    const result = resolveEndpointUrl(raw, base);
    if (!result.ok) {
      warnings.push(
        warning('DOCUMENT_WRONG_SHAPE', `${DOCUMENT_LABEL[doc.kind]} at ${doc.url}: "${field}" (${raw}) was ignored because ${result.reason}.`, {
          document: doc.kind,
          field,
        }),
      );
      continue;
    }
    if (result.relative) {
      warnings.push(
        warning(
          'RELATIVE_URL',
          `${DOCUMENT_LABEL[doc.kind]} at ${doc.url}: "${field}" is the relative URL "${raw}"; it was resolved against ${base} to ${result.url}.`,
          { document: doc.kind, field },
        ),
      );
    }
    out[name] = result.url;
  }
  return out;
}

/** SMART App Launch 2.2 capability codes; full-URI capabilities are extensions and kept as they are. */
export const SMART_CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'authorize-post',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'sso-openid-connect',
  'context-banner',
  'context-style',
  'context-ehr-patient',
  'context-ehr-encounter',
  'context-standalone-patient',
  'context-standalone-encounter',
  'permission-offline',
  'permission-online',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
  'smart-app-state',
] as const;

const FULL_URI = /^[a-z][a-z0-9+.-]*:\S+$/i;

/** Advice about the merged result: transport security, PKCE, client authentication, capabilities. */
export function checkServer(
  merged: Merged,
  context: { issuer: string | null; smartIssuer: string | null; jwks: boolean },
  warnings: DiscoveryWarning[],
): void {
  const { endpoints, lists, capabilities } = merged;
  const issuerHost = context.issuer ? hostOf(context.issuer) : null;

  for (const name of ENDPOINT_NAMES) {
    const endpoint = endpoints[name];
    if (!endpoint) continue;
    const field = `endpoints.${name}`;
    if (endpoint.value.toLowerCase().startsWith('http:')) {
      warnings.push(
        warning('HTTP_ENDPOINT', `The ${ENDPOINT_LABEL[name]} ${endpoint.value} uses plain http.`, { document: endpoint.source, field }),
      );
    }
    const host = hostOf(endpoint.value);
    if (issuerHost && host && host !== issuerHost) {
      warnings.push(
        warning(
          'CROSS_HOST_ENDPOINT',
          `The ${ENDPOINT_LABEL[name]} ${endpoint.value} is on ${host}, not on the issuer's host ${issuerHost}.`,
          { document: endpoint.source, field },
        ),
      );
    }
  }

  if (!endpoints.registration) {
    warnings.push(
      warning(
        'NO_REGISTRATION_ENDPOINT',
        'No document advertises a registration endpoint, so dynamic client registration is impossible at this server as discovered. For Epic, set the app’s Epic client ID on the issuer page (discovery runs again with it); otherwise ask the hospital how to register the app outside Registrar.',
        { field: 'endpoints.registration' },
      ),
    );
  }

  const pkce = lists.pkceMethods;
  if (!pkce.includes('S256')) {
    warnings.push(
      warning(
        'S256_MISSING',
        pkce.length === 0
          ? 'No document lists code_challenge_methods_supported, so support for PKCE S256 is unknown.'
          : `code_challenge_methods_supported is [${pkce.join(', ')}], without S256.`,
        { field: 'codeChallengeMethodsSupported' },
      ),
    );
  }
  if (pkce.includes('plain')) {
    warnings.push(
      warning('PLAIN_PKCE_OFFERED', 'code_challenge_methods_supported includes "plain", which SMART forbids; always use S256.', {
        field: 'codeChallengeMethodsSupported',
      }),
    );
  }

  const methods = lists.authMethods;
  if (!methods.includes('private_key_jwt')) {
    warnings.push(
      warning(
        'NO_PRIVATE_KEY_JWT',
        methods.length === 0
          ? 'No document lists token_endpoint_auth_methods_supported, which means client_secret_basic only (RFC 8414 default): no private_key_jwt.'
          : `token_endpoint_auth_methods_supported is [${methods.join(', ')}], without private_key_jwt.`,
        { field: 'tokenEndpointAuthMethodsSupported' },
      ),
    );
  }

  const has = (c: string) => capabilities.includes(c);
  const inconsistent = (message: string) =>
    warnings.push(warning('INCONSISTENT_CAPABILITIES', message, { document: 'smart-configuration', field: 'capabilities' }));
  if (has('client-confidential-asymmetric')) {
    if (lists.signingAlgs.length === 0) {
      inconsistent('The SMART capabilities include client-confidential-asymmetric, but no document lists token_endpoint_auth_signing_alg_values_supported.');
    }
    if (methods.length > 0 && !methods.includes('private_key_jwt')) {
      inconsistent('The SMART capabilities include client-confidential-asymmetric, but token_endpoint_auth_methods_supported lacks private_key_jwt.');
    }
  }
  if (has('client-confidential-symmetric') && methods.length > 0 && !methods.some((m) => m === 'client_secret_basic' || m === 'client_secret_post')) {
    inconsistent('The SMART capabilities include client-confidential-symmetric, but token_endpoint_auth_methods_supported lists no client_secret_basic or client_secret_post.');
  }
  if (has('client-public') && methods.length > 0 && !methods.includes('none')) {
    inconsistent('The SMART capabilities include client-public, but token_endpoint_auth_methods_supported lacks "none".');
  }
  if (has('sso-openid-connect')) {
    if (context.issuer === null && context.smartIssuer === null) inconsistent('The SMART capabilities include sso-openid-connect, but no document names an issuer.');
    if (!context.jwks) inconsistent('The SMART capabilities include sso-openid-connect, but no document names a jwks_uri.');
  }
  for (const capability of capabilities) {
    if ((SMART_CAPABILITIES as readonly string[]).includes(capability) || FULL_URI.test(capability)) continue;
    warnings.push(
      warning('UNKNOWN_CAPABILITY', `The SMART capability "${capability}" is not defined by SMART App Launch 2.2; it was kept.`, {
        document: 'smart-configuration',
        field: 'capabilities',
      }),
    );
  }
}
