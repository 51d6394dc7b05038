import 'server-only';

import type { SafeFetchInit } from '@/lib/oauth/safe-fetch';

export const DOCUMENT_KINDS = [
  'smart-configuration',
  'capability-statement',
  'openid-configuration',
  'oauth-authorization-server',
  'udap',
] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

export type Attempt = {
  kind: DocumentKind;
  url: string;
  outcome: 'found' | 'not-found' | 'error';
  status?: number;
  /** An AppError code from the transport (TIMEOUT, TOO_LARGE, ...) or the warning code that rejected the document. */
  errorCode?: string;
  message: string;
  durationMs: number;
};

export const ENDPOINT_NAMES = [
  'authorization',
  'token',
  'registration',
  'management',
  'jwks',
  'introspection',
  'revocation',
  'userinfo',
] as const;
export type EndpointName = (typeof ENDPOINT_NAMES)[number];

export type SourcedValue = {
  value: string;
  source: DocumentKind;
  /** Different values other documents gave for the same field; never chosen silently. */
  conflicts: Array<{ value: string; source: DocumentKind }>;
};

export const WARNING_CODES = [
  'ISSUER_MISMATCH',
  'NO_REGISTRATION_ENDPOINT',
  'HTTP_ENDPOINT',
  'CROSS_HOST_ENDPOINT',
  'S256_MISSING',
  'PLAIN_PKCE_OFFERED',
  'NO_PRIVATE_KEY_JWT',
  'SMART_REQUIRED_FIELD_MISSING',
  'INCONSISTENT_CAPABILITIES',
  'UNKNOWN_CAPABILITY',
  'LEGACY_FIELD_NAME',
  'RELATIVE_URL',
  'ENDPOINT_CONFLICT',
  'ISSUER_UNVERIFIED',
  'DOCUMENT_UNREACHABLE',
  'DOCUMENT_TIMEOUT',
  'DOCUMENT_TOO_LARGE',
  'DOCUMENT_NOT_JSON',
  'DOCUMENT_WRONG_SHAPE',
  'DOCUMENT_REDIRECTED',
  'DOCUMENT_HTTP_ERROR',
  'UDAP_SIGNATURE_INVALID',
  'UDAP_UNVERIFIED_TRUST',
  'WELL_KNOWN_INPUT',
] as const;
export type WarningCode = (typeof WARNING_CODES)[number];

export type WarningSeverity = 'info' | 'warning' | 'error';

export type DiscoveryWarning = {
  code: WarningCode;
  severity: WarningSeverity;
  message: string;
  document?: DocumentKind;
  field?: string;
};

export type UdapInfo = {
  /** A UDAP metadata document was found at `{fhirBase}/.well-known/udap`. */
  present: boolean;
  signedMetadataPresent: boolean;
  /**
   * true: the signed_metadata JWS verifies with its x5c leaf and its iss/sub/exp are right
   * (the chain to a trust anchor is NOT checked); false: it does not; null: nothing to verify.
   */
  signatureVerified: boolean | null;
  /** The signed_metadata claims as decoded (shown even when unverified; merged only when verified). */
  claims: Record<string, unknown> | null;
  error: string | null;
};

export type DiscoveryFailure = { code: 'DISCOVERY_FAILED' | 'ISSUER_MISMATCH'; message: string };

export type DiscoveryResult = {
  /** As entered (trimmed). */
  input: string;
  /** The authorization server's issuer identifier, exactly as the chosen document says it. */
  issuer: string | null;
  fhirBaseUrl: string | null;
  endpoints: Partial<Record<EndpointName, SourcedValue>>;
  scopesSupported: string[];
  grantTypesSupported: string[];
  responseTypesSupported: string[];
  tokenEndpointAuthMethodsSupported: string[];
  tokenEndpointAuthSigningAlgValuesSupported: string[];
  codeChallengeMethodsSupported: string[];
  capabilities: string[];
  udap: UdapInfo | null;
  /** The raw parsed documents that were accepted (safe-parsed JSON). */
  documents: Partial<Record<DocumentKind, unknown>>;
  /** Every fetch tried, in the order they were planned, with its outcome. */
  attempts: Attempt[];
  warnings: DiscoveryWarning[];
  /** Non-null when nothing usable was found (no token endpoint from any accepted document). */
  failure: DiscoveryFailure | null;
  /** ISO 8601. */
  discoveredAt: string;
};

export type DiscoverOptions = {
  /** Sent as `Epic-Client-ID` so that Epic returns per-client endpoints and its `register` URI. */
  epicClientId?: string;
  /** Outbound policy, timeouts, resolver: passed through to safeFetch for every request. */
  fetchInit?: Omit<SafeFetchInit, 'method' | 'headers' | 'body'>;
  /** Most requests in flight at once; default 4. */
  concurrency?: number;
};

export type PrecedenceField = EndpointName | 'metadata';

export type DiscoveryDiffEntry = { field: string; before: unknown; after: unknown; attention: boolean };
