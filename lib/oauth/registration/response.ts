import 'server-only';

import { decodeJwt } from 'jose';

import { type Operation, unusableSuccessError } from './errors';
import {
  CREDENTIAL_FIELDS,
  JWT_REGISTERED_CLAIMS,
  KNOWN_METADATA_FIELDS,
  baseFieldName,
  isRecord,
  parseJsonSafely,
} from './fields';
import type { ClientMetadata, RegistrationResponse, RegistrationWarning, SecretExpiry } from './types';

/** Epoch values at or above this are milliseconds (1e12 s is the year 33658). */
const MILLISECONDS_THRESHOLD = 1e12;

type EpochReading = { kind: 'absent' } | { kind: 'invalid' } | { kind: 'value'; date: Date | null; milliseconds: boolean };

/** RFC 7591 §3.2.1: times are JSON numbers of seconds since the epoch; 0 is "no expiry" for secrets. */
function readEpoch(value: unknown): EpochReading {
  if (value === undefined || value === null) return { kind: 'absent' };
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0) return { kind: 'invalid' };
  if (n === 0) return { kind: 'value', date: null, milliseconds: false };
  const milliseconds = n >= MILLISECONDS_THRESHOLD;
  return { kind: 'value', date: new Date(milliseconds ? n : n * 1000), milliseconds };
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/**
 * Stray leading/trailing whitespace (Epic's samples have it) is removed from top-level strings and
 * top-level string arrays, with a warning. Credentials are kept byte for byte: whether the space
 * belongs to them cannot be known, so they are only flagged.
 */
function trimValues(body: Record<string, unknown>, warnings: RegistrationWarning[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (CREDENTIAL_FIELDS.has(key)) {
      if (typeof value === 'string' && value !== value.trim()) {
        warnings.push({
          code: 'CREDENTIAL_HAS_WHITESPACE',
          field: key,
          message: `The server's ${key} starts or ends with whitespace; it is kept exactly as issued. If it is refused, ask the hospital.`,
        });
      }
      out[key] = value;
    } else if (typeof value === 'string') {
      const trimmed = value.trim();
      if (trimmed !== value) {
        warnings.push({ code: 'VALUE_TRIMMED', field: key, message: `The server's ${key} had leading or trailing spaces (${preview(value)}); they were removed.` });
      }
      out[key] = trimmed;
    } else if (Array.isArray(value) && value.some((v) => typeof v === 'string' && v !== v.trim())) {
      warnings.push({ code: 'VALUE_TRIMMED', field: key, message: `Entries of the server's ${key} had leading or trailing spaces (${preview(value)}); they were removed.` });
      out[key] = value.map((v: unknown) => (typeof v === 'string' ? v.trim() : v));
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The client metadata a software statement carries (its claims but the registered JWT ones), unverified; null when it is not a JWT. */
export function statementMetadata(statement: unknown): ClientMetadata | null {
  if (typeof statement !== 'string') return null;
  try {
    return Object.fromEntries(Object.entries(decodeJwt(statement)).filter(([k]) => !JWT_REGISTERED_CLAIMS.has(k)));
  } catch {
    return null;
  }
}

/** RFC 7591 §2.3: a software statement's claims win over the plain JSON members they duplicate. */
export function effectiveRequest(metadata: ClientMetadata): ClientMetadata {
  const fromStatement = statementMetadata(metadata.software_statement);
  return fromStatement ? { ...metadata, ...fromStatement } : metadata;
}

/** Members order does not matter for: compared as sets. */
const UNORDERED_FIELDS = new Set(['grant_types', 'response_types', 'redirect_uris', 'contacts', 'post_logout_redirect_uris', 'request_uris', 'default_acr_values']);
/** Request-only carriers, and credentials: not compared. */
const NOT_COMPARED = new Set(['software_statement', 'udap', 'certifications', 'client_secret', 'registration_access_token', 'client_id']);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/**
 * Whether two metadata values are the same JSON (as sets for unordered fields). The common cases —
 * equal strings, arrays of strings — are decided without building canonical texts, which cost more
 * than the rest of reading an answer.
 */
function sameValue(unordered: boolean, want: unknown, got: unknown): boolean {
  if (want === got) return true;
  if (Array.isArray(want) && Array.isArray(got)) {
    if (want.length !== got.length) return false;
    if (want.every((v) => typeof v === 'string') && got.every((v) => typeof v === 'string')) {
      const [a, b] = unordered ? [[...want].sort(), [...got].sort()] : [want, got];
      return a.every((v, i) => v === b[i]);
    }
    if (unordered) return canonical([...want.map(canonical)].sort()) === canonical([...got.map(canonical)].sort());
  }
  if (typeof want !== 'object' || typeof got !== 'object' || want === null || got === null) return false;
  return canonical(want) === canonical(got);
}

function scopeTokens(scope: string): Set<string> {
  return new Set(scope.split(/\s+/).filter((s) => s !== ''));
}

/** RFC 7591 §3.2.1: the server may substitute values; each requested field it changed or dropped gets a warning. */
export function compareMetadata(requested: ClientMetadata, registered: ClientMetadata): RegistrationWarning[] {
  const warnings: RegistrationWarning[] = [];
  for (const [field, want] of Object.entries(requested)) {
    if (want === undefined || NOT_COMPARED.has(field)) continue;
    const got = registered[field];
    if (got === undefined) {
      warnings.push({ code: 'METADATA_SUBSTITUTED', field, message: `The server did not keep ${field} (requested ${preview(want)}).` });
      continue;
    }
    if (field === 'scope' && typeof want === 'string' && typeof got === 'string') {
      const asked = scopeTokens(want);
      const granted = scopeTokens(got);
      const dropped = [...asked].filter((s) => !granted.has(s));
      const added = [...granted].filter((s) => !asked.has(s));
      if (dropped.length === 0 && added.length === 0) continue;
      const how = added.length === 0 ? 'narrowed' : dropped.length === 0 ? 'widened' : 'changed';
      const parts = [dropped.length ? `dropped ${dropped.join(' ')}` : '', added.length ? `added ${added.join(' ')}` : ''].filter(Boolean);
      warnings.push({ code: 'METADATA_SUBSTITUTED', field, message: `The server ${how} the scope: ${parts.join('; ')}.` });
      continue;
    }
    if (!sameValue(UNORDERED_FIELDS.has(field), want, got)) {
      warnings.push({ code: 'METADATA_SUBSTITUTED', field, message: `The server changed ${field}: requested ${preview(want)}, registered ${preview(got)}.` });
    }
  }
  return warnings;
}

export type ClientInformationInput = {
  op: Extract<Operation, 'register' | 'read' | 'update'>;
  endpoint: string;
  status: number;
  text: string;
  /** What was sent (registration or update body); null for a read. */
  requested: ClientMetadata | null;
  /** RFC 7592 calls: what stays valid when the server does not send a new value. */
  current?: { registrationAccessToken: string; registrationClientUri: string };
};

/**
 * RFC 7591 §3.2.1 / RFC 7592 §3: reads a client information response. Any 2xx with a JSON object
 * holding a string client_id is a success (so a credential in a 200 is never lost); anything else
 * is INVALID_JSON with outcomeUnknown.
 */
export function readClientInformation(input: ClientInformationInput): RegistrationResponse {
  const parsed = parseJsonSafely(input.text);
  if (!isRecord(parsed)) {
    throw unusableSuccessError(input.op, input.endpoint, input.status, parsed === undefined ? 'the body is not JSON' : 'the body is not a JSON object');
  }
  const clientIdRaw = parsed.client_id;
  if (typeof clientIdRaw !== 'string' || clientIdRaw.trim() === '') {
    throw unusableSuccessError(input.op, input.endpoint, input.status, 'the JSON body has no client_id');
  }

  const warnings: RegistrationWarning[] = [];
  const expected = input.op === 'register' ? 201 : 200;
  if (input.status !== expected) {
    warnings.push(
      input.op === 'register' && input.status === 200
        ? { code: 'STATUS_200_NOT_201', message: 'The server answered 200 instead of 201 (RFC 7591 §3.2.1); the registration was accepted.' }
        : { code: 'UNEXPECTED_STATUS', message: `The server answered ${input.status} instead of ${expected}; the response was accepted.` },
    );
  }

  const body = trimValues(parsed, warnings);
  const clientSecret = typeof body.client_secret === 'string' && body.client_secret !== '' ? body.client_secret : null;
  const rat =
    typeof body.registration_access_token === 'string' && body.registration_access_token !== ''
      ? body.registration_access_token
      : (input.current?.registrationAccessToken ?? null);
  const uri =
    typeof body.registration_client_uri === 'string' && body.registration_client_uri !== ''
      ? body.registration_client_uri
      : (input.current?.registrationClientUri ?? null);

  let clientIdIssuedAt: Date | null = null;
  const issued = readEpoch(body.client_id_issued_at);
  if (issued.kind === 'value') {
    clientIdIssuedAt = issued.date;
    if (issued.milliseconds) {
      warnings.push({ code: 'ISSUED_AT_MILLISECONDS', field: 'client_id_issued_at', message: 'client_id_issued_at looks like milliseconds, not seconds; it was read as milliseconds.' });
    }
  }

  let secretExpiry: SecretExpiry;
  if (clientSecret === null) {
    secretExpiry = { kind: 'none' };
  } else {
    const expiry = readEpoch(body.client_secret_expires_at);
    if (expiry.kind === 'absent') {
      secretExpiry = { kind: 'unknown' };
      warnings.push({
        code: 'SECRET_EXPIRY_MISSING',
        field: 'client_secret_expires_at',
        message: 'The server issued a secret without client_secret_expires_at (required by RFC 7591 §3.2.1); its expiry is unknown, not "never".',
      });
    } else if (expiry.kind === 'invalid') {
      secretExpiry = { kind: 'unknown' };
      warnings.push({
        code: 'SECRET_EXPIRY_INVALID',
        field: 'client_secret_expires_at',
        message: `client_secret_expires_at is not a number of seconds (${preview(body.client_secret_expires_at)}); the secret's expiry is unknown.`,
      });
    } else if (expiry.date === null) {
      secretExpiry = { kind: 'never' };
    } else {
      secretExpiry = { kind: 'at', at: expiry.date };
      if (expiry.milliseconds) {
        warnings.push({
          code: 'SECRET_EXPIRY_MILLISECONDS',
          field: 'client_secret_expires_at',
          message: `client_secret_expires_at (${preview(body.client_secret_expires_at)}) looks like milliseconds, not seconds; it was read as ${expiry.date.toISOString()}.`,
        });
      }
      if (expiry.date.getTime() <= Date.now()) {
        warnings.push({ code: 'SECRET_ALREADY_EXPIRED', field: 'client_secret_expires_at', message: `The issued secret expired already (${expiry.date.toISOString()}).` });
      }
    }
  }

  const metadata: ClientMetadata = Object.fromEntries(Object.entries(body).filter(([k]) => !CREDENTIAL_FIELDS.has(k)));
  const requested = input.requested ? effectiveRequest(input.requested) : null;
  if (requested) warnings.push(...compareMetadata(requested, metadata));

  const unexpected = Object.keys(metadata).filter((k) => !KNOWN_METADATA_FIELDS.has(baseFieldName(k)) && !(requested && k in requested));
  if (unexpected.length > 0) {
    warnings.push({
      code: 'UNEXPECTED_FIELDS',
      message: `The server returned fields that are not standard client metadata: ${unexpected.join(', ')}. They are kept, and sent back on update.`,
    });
  }

  return {
    httpStatus: input.status,
    clientId: clientIdRaw.trim(),
    clientSecret,
    registrationAccessToken: rat,
    registrationClientUri: uri,
    clientIdIssuedAt,
    secretExpiry,
    metadata,
    rawBody: input.text,
    warnings,
  };
}
