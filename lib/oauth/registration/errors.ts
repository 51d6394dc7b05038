import 'server-only';

import { AppError, type ErrorCode, isAppError } from '@/lib/errors';
import type { SafeResponse } from '@/lib/oauth/safe-fetch';
import { isSecretKey } from '@/lib/redact';

import { KNOWN_METADATA_FIELDS, isRecord, parseJsonSafely } from './fields';
import type { RegistrationErrorInfo } from './types';

export type Operation = 'register' | 'read' | 'update' | 'delete' | 'token';

const LABEL: Record<Operation, string> = {
  register: 'Client registration',
  read: 'Reading the client registration',
  update: 'Updating the client registration',
  delete: 'Deleting the client registration',
  token: 'The token request',
};

/** What to do when the request may have taken effect although no usable answer came back. */
const OUTCOME_UNKNOWN_HINT: Record<Operation, string> = {
  register:
    'The server may have registered the client anyway: check with the hospital before registering again, or an orphan client may be left behind.',
  read: 'If this server rotates the registration access token on read, the stored token may no longer work.',
  update: 'The update may have been applied and the registration access token rotated: read the registration before retrying.',
  delete: 'The registration may already be deleted: read it to check.',
  token: '',
};

/** Origin and path only: a query string may carry codes or tokens. */
export function describeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/**
 * Removes known secret values from text that came from the server (error_description, an HTML
 * line): a server that echoes the token or secret it was sent must not leak it into our errors.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(values: ReadonlyArray<string | null | undefined> = []) {
    for (const value of values) this.add(value);
  }

  add(value: string | null | undefined): void {
    // Very short values would mangle ordinary words; real secrets are long.
    if (typeof value === 'string' && value.trim().length >= 6) {
      this.secrets.add(value);
      this.secrets.add(value.trim());
      // As it went out in a form body or a URL (a server echoing the request quotes it encoded):
      // base64 secrets hold +, / and =, which both encodings change.
      this.secrets.add(encodeURIComponent(value));
      this.secrets.add(new URLSearchParams({ v: value }).toString().slice(2));
    }
  }

  /** Adds every string stored under a secret-looking key (client_secret, *_token, ...) at any depth. */
  addFromJson(value: unknown, depth = 0): void {
    if (depth > 8) return;
    if (Array.isArray(value)) {
      for (const item of value) this.addFromJson(item, depth + 1);
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        if (isSecretKey(key) && typeof item === 'string') this.add(item);
        else this.addFromJson(item, depth + 1);
      }
    }
  }

  apply(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is removed whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join('[redacted]');
    }
    return out;
  }
}

function registrationAppError(
  code: ErrorCode,
  message: string,
  info: RegistrationErrorInfo,
  extra: Record<string, unknown> = {},
  cause?: unknown,
): AppError {
  const registrationError = Object.fromEntries(
    Object.entries(info).filter(([, v]) => v !== undefined),
  ) as RegistrationErrorInfo;
  return new AppError(code, message, { ...extra, registrationError }, cause === undefined ? undefined : { cause });
}

// ---------------------------------------------------------------------------------------------
// Transport failures (no usable HTTP answer)

/** Socket errors that happen before a byte of the request is written. */
const NOT_SENT_CAUSES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_PINNED_ADDRESS_MISMATCH',
]);

function isTlsCause(code: string): boolean {
  return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
}

/** Refusals by our own outbound policy or input checks: nothing was sent. */
const LOCAL_REFUSALS: ReadonlySet<ErrorCode> = new Set(['BLOCKED_ADDRESS', 'INSECURE_SCHEME', 'INVALID_URL', 'INVALID', 'MISCONFIGURED']);

/**
 * Whether a failed call may have reached the server and taken effect. DNS failures, refused or
 * timed-out connects, TLS failures and our own policy refusals send nothing; a timeout waiting
 * for headers or body, a reset after connecting, a redirect or an oversize answer come after the
 * request was written.
 */
export function classifyTransportFailure(error: AppError): { code: ErrorCode; outcomeUnknown: boolean; status?: number } {
  const details = error.details ?? {};
  const cause = typeof details.cause === 'string' ? details.cause : '';
  const status = typeof details.status === 'number' ? details.status : undefined;
  switch (error.code) {
    case 'DNS_FAILURE':
      return { code: 'UPSTREAM_UNREACHABLE', outcomeUnknown: false };
    case 'CONNECTION_FAILED':
      return { code: 'UPSTREAM_UNREACHABLE', outcomeUnknown: !(NOT_SENT_CAUSES.has(cause) || isTlsCause(cause)) };
    case 'TIMEOUT':
      return { code: 'TIMEOUT', outcomeUnknown: details.phase !== 'connect' };
    case 'UNEXPECTED_REDIRECT':
      return { code: 'UNEXPECTED_REDIRECT', outcomeUnknown: true, ...(status !== undefined ? { status } : {}) };
    default:
      return { code: error.code, outcomeUnknown: !LOCAL_REFUSALS.has(error.code) };
  }
}

/** Wraps a safeFetch failure: code per classifyTransportFailure, safeFetch's (secret-free) message, registrationError details. */
export function transportError(error: unknown, op: Operation): unknown {
  if (!isAppError(error)) return error; // the caller's own abort, or a bug: not ours to relabel
  const { code, outcomeUnknown, status } = classifyTransportFailure(error);
  const kind = error.code === 'UNEXPECTED_REDIRECT' || error.code === 'TOO_LARGE' ? 'http' : 'network';
  const hint = outcomeUnknown ? OUTCOME_UNKNOWN_HINT[op] : '';
  return registrationAppError(
    code,
    `${LABEL[op]} failed: ${error.message}${hint ? ` ${hint}` : ''}`,
    { kind, ...(status !== undefined ? { status } : {}), outcomeUnknown },
    { ...(error.details ?? {}), transportCode: error.code },
    error,
  );
}

// ---------------------------------------------------------------------------------------------
// HTTP error answers

/** RFC 7591 §3.2.2 error codes that name their field. */
const ERROR_FIELD: Record<string, string> = {
  invalid_redirect_uri: 'redirect_uris',
  invalid_software_statement: 'software_statement',
  unapproved_software_statement: 'software_statement',
};

/**
 * The metadata field an invalid_client_metadata description is about, when that is obvious: the
 * only known field name it mentions, or the one it starts with. Otherwise undefined.
 */
export function fieldFromDescription(description: string | undefined): string | undefined {
  if (!description) return undefined;
  const found = new Map<string, number>();
  for (const match of description.matchAll(/[A-Za-z][A-Za-z0-9_]*/g)) {
    const word = match[0];
    if (KNOWN_METADATA_FIELDS.has(word) && !found.has(word)) found.set(word, match.index);
  }
  if (found.size === 1) return [...found.keys()][0];
  for (const [name, index] of found) if (index === 0) return name;
  return undefined;
}

export function fieldForError(error: string | undefined, description: string | undefined): string | undefined {
  if (!error) return undefined;
  if (error in ERROR_FIELD) return ERROR_FIELD[error];
  if (error === 'invalid_client_metadata') return fieldFromDescription(description);
  return undefined;
}

/** RFC 6750 §3 / RFC 9110 §11.6.1: the auth-params of the Bearer challenge, or null when there is none. */
export function parseBearerChallenge(header: string | null): { error?: string; errorDescription?: string } | null {
  if (!header) return null;
  const start = /(?:^|[\s,])Bearer(?=$|[\s,])/i.exec(header);
  if (!start) return null;
  const params: Record<string, string> = {};
  const param = /\s*,?\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))/y;
  param.lastIndex = start.index + start[0].length;
  for (let m = param.exec(header); m; m = param.exec(header)) {
    const name = m[1]!.toLowerCase();
    params[name] ??= m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return {
    ...(params.error ? { error: params.error } : {}),
    ...(params.error_description ? { errorDescription: params.error_description } : {}),
  };
}

const BLOCK_TAGS =
  /<\/?(?:title|h[1-6]|p|div|br|hr|li|ul|ol|dl|dt|dd|tr|td|th|table|pre|body|head|html|header|footer|section|article|main|nav|aside|blockquote|form|center|address)\b[^>]*>/gi;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** The first non-empty line of a text or HTML body, tags stripped, at most 200 characters. */
export function firstLineOfText(text: string): string {
  const stripped = text
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(BLOCK_TAGS, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
      if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16) || 0xfffd);
      if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10) || 0xfffd);
      return ENTITIES[name.toLowerCase()] ?? entity;
    });
  const line =
    stripped
      .split(/\r?\n|\r/)
      .map((l) => l.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\s+/g, ' ').trim())
      .find((l) => l !== '') ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function looksLikeHtml(contentType: string | null, text: string): boolean {
  return /html/i.test(contentType ?? '') || /^\s*<(?:!doctype|html|head|body|title|h1|p|div)\b/i.test(text);
}

const MAX_SHOWN = 500;

function shown(redactor: Redactor, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const clean = redactor.apply(value).trim();
  return clean.length > MAX_SHOWN ? `${clean.slice(0, MAX_SHOWN - 1)}…` : clean;
}

/** 502 and 504 come from a gateway whose backend may have done the work; 500 may follow a partial write. 501/503 did nothing. */
function fiveHundredOutcomeUnknown(status: number): boolean {
  return status >= 500 && status !== 501 && status !== 503;
}

/**
 * Maps a non-2xx answer to an AppError: 4xx → UPSTREAM_REJECTED, 5xx → UPSTREAM_UNREACHABLE.
 * A 401 (or a 403 with a Bearer challenge) at the registration/management endpoints is a bearer
 * error about the initial access token or RAT; a JSON {error} body is an RFC 7591 error; anything
 * else (HTML, text) is described by status and first line.
 */
export function httpError(op: Operation, endpoint: string, res: SafeResponse, redactor: Redactor, context: { sentToken: boolean }): AppError {
  const status = res.status;
  const where = describeEndpoint(endpoint);
  const code: ErrorCode = status >= 500 ? 'UPSTREAM_UNREACHABLE' : 'UPSTREAM_REJECTED';
  const outcomeUnknown = fiveHundredOutcomeUnknown(status);
  const text = res.text();
  const json = parseJsonSafely(text);
  redactor.addFromJson(json);
  const body = isRecord(json) ? json : null;
  const bodyError = typeof body?.error === 'string' && body.error.trim() !== '' ? body.error.trim() : undefined;
  const bodyDescription = typeof body?.error_description === 'string' ? body.error_description : undefined;
  const challenge = parseBearerChallenge(res.headers.get('www-authenticate'));

  if (op !== 'token' && (status === 401 || (status === 403 && challenge))) {
    const error = shown(redactor, challenge?.error ?? bodyError);
    const errorDescription = shown(redactor, challenge?.errorDescription ?? bodyDescription);
    const said = `HTTP ${status}${error ? ` ${error}` : ''}${errorDescription ? `: ${errorDescription}` : ''}`;
    let message: string;
    if (op === 'register') {
      message = context.sentToken
        ? `${LABEL[op]} was refused: ${where} did not accept the initial access token (${said}). It is invalid, expired or already used: get a new one from the hospital.`
        : `${LABEL[op]} was refused: ${where} requires an initial access token (${said}). Ask the hospital for one.`;
    } else {
      message =
        status === 401
          ? `Management access lost: ${where} refused the registration access token (${said}). The registration may have been deleted at the hospital, or the token was rotated by an earlier call whose answer was not stored.`
          : `${LABEL[op]} was refused: ${where} does not allow this with the registration access token (${said}).`;
    }
    return registrationAppError(code, message, {
      kind: 'bearer',
      status,
      ...(error ? { error } : {}),
      ...(errorDescription ? { errorDescription } : {}),
      outcomeUnknown: false,
    });
  }

  if (bodyError) {
    const error = shown(redactor, bodyError)!;
    const errorDescription = shown(redactor, bodyDescription);
    const field = op === 'token' ? undefined : fieldForError(bodyError, bodyDescription);
    const verb = status >= 500 ? 'failed' : 'was refused';
    const message =
      `${LABEL[op]} ${verb}: ${where} answered HTTP ${status} ${error}${errorDescription ? `: ${errorDescription}` : ''}` +
      `${field ? ` (field: ${field})` : ''}.${outcomeUnknown && op !== 'token' ? ` ${OUTCOME_UNKNOWN_HINT[op]}` : ''}`;
    return registrationAppError(code, message, {
      kind: 'rfc7591',
      status,
      error,
      ...(errorDescription ? { errorDescription } : {}),
      ...(field ? { field } : {}),
      outcomeUnknown,
    });
  }

  const html = looksLikeHtml(res.headers.get('content-type'), text);
  const line = shown(redactor, firstLineOfText(text)) ?? '';
  const what = body
    ? 'JSON that is not an OAuth error (no "error" member)'
    : text.trim() === ''
      ? 'an empty body'
      : html
        ? `an HTML page instead of JSON${line ? `: "${line}"` : ''}`
        : `a non-JSON body${line ? `: "${line}"` : ''}`;
  const verb = status >= 500 ? 'failed' : 'was refused';
  return registrationAppError(
    code,
    `${LABEL[op]} ${verb}: ${where} answered HTTP ${status} with ${what}.${outcomeUnknown && op !== 'token' ? ` ${OUTCOME_UNKNOWN_HINT[op]}` : ''}`,
    { kind: 'http', status, outcomeUnknown },
    { contentType: res.headers.get('content-type'), html },
  );
}

/** A 2xx whose body is not the JSON object the protocol requires. The body is never quoted: it may hold a secret. */
export function unusableSuccessError(op: Operation, endpoint: string, status: number, reason: string): AppError {
  const hint = OUTCOME_UNKNOWN_HINT[op];
  return registrationAppError(
    'INVALID_JSON',
    `${LABEL[op]} is in doubt: ${describeEndpoint(endpoint)} answered HTTP ${status} but ${reason}.${hint ? ` ${hint}` : ''}`,
    { kind: 'http', status, outcomeUnknown: op !== 'token' },
  );
}
