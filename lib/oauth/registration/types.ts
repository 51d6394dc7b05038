import 'server-only';

import type { SafeFetchInit } from '@/lib/oauth/safe-fetch';

/** RFC 7591 client metadata as sent or received (snake_case keys, language tags like `client_name#fr` kept). */
export type ClientMetadata = Record<string, unknown>;

/** A JSON Web Key as plain JSON; `kty` is required, every other member is optional. */
export type JsonWebKeyLike = {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [member: string]: unknown;
};

/** Transport options passed through to safeFetch (policy, timeouts, resolver, abort signal). */
export type RegistrationFetchInit = Omit<SafeFetchInit, 'method' | 'headers' | 'body'>;

export type RegistrationWarningCode =
  | 'STATUS_200_NOT_201'
  | 'UNEXPECTED_STATUS'
  | 'SECRET_EXPIRY_MISSING'
  | 'SECRET_EXPIRY_MILLISECONDS'
  | 'SECRET_EXPIRY_INVALID'
  | 'SECRET_ALREADY_EXPIRED'
  | 'ISSUED_AT_MILLISECONDS'
  | 'METADATA_SUBSTITUTED'
  | 'UNEXPECTED_FIELDS'
  | 'VALUE_TRIMMED'
  | 'CREDENTIAL_HAS_WHITESPACE';

export type RegistrationWarning = {
  code: RegistrationWarningCode | (string & {});
  message: string;
  field?: string;
};

export type SecretExpiry = { kind: 'never' } | { kind: 'at'; at: Date } | { kind: 'unknown' } | { kind: 'none' };

export type RegistrationResponse = {
  /** 201 for a registration, 200 for RFC 7592 read/update (a registration answered 200 carries STATUS_200_NOT_201). */
  httpStatus: number;
  clientId: string;
  /**
   * The client secret exactly as issued, or null when this response carries none. On RFC 7592
   * read/update, null means "not sent this time", not "deleted": keep the stored secret.
   */
  clientSecret: string | null;
  /**
   * Registration: the RAT issued, or null (no RFC 7592 management, e.g. Epic).
   * Read/update: the new RAT when the server rotated it, otherwise the one used for the call;
   * when it differs from the stored one, persist it before anything else (the old one is dead).
   */
  registrationAccessToken: string | null;
  /** As given by the server (never built); on read/update the URI used when the server omits it. */
  registrationClientUri: string | null;
  clientIdIssuedAt: Date | null;
  /**
   * 'none' = no secret in this response; 0 → 'never'; a secret without client_secret_expires_at →
   * 'unknown' (never 'never'); a 13-digit value is read as milliseconds and flagged.
   */
  secretExpiry: SecretExpiry;
  /** The full response, values trimmed, with client_secret and registration_access_token removed: safe to store and show. */
  metadata: ClientMetadata;
  /** The exact response body text. It contains secrets: callers encrypt it. */
  rawBody: string;
  warnings: RegistrationWarning[];
};

export type RegistrationErrorInfo = {
  /**
   * 'rfc7591': a JSON OAuth error body ({error, error_description}; at the token endpoint, RFC 6749 §5.2).
   * 'bearer': the token presented (initial access token, RAT) was refused (401, or 403 with WWW-Authenticate).
   * 'http': an HTTP answer without a usable OAuth error (HTML page, plain text, redirect, 2xx without client_id).
   * 'network': no HTTP answer (DNS, connect, TLS, reset, timeout, address policy).
   */
  kind: 'rfc7591' | 'bearer' | 'http' | 'network';
  status?: number;
  error?: string;
  errorDescription?: string;
  /** The client metadata field an RFC 7591 error concerns, e.g. invalid_redirect_uri → 'redirect_uris'. */
  field?: string;
  /** true when the request may have reached the server and taken effect: check upstream before retrying. */
  outcomeUnknown: boolean;
};
