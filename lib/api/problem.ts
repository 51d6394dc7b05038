import 'server-only';
import { z } from 'zod';
import { ERROR_CODES, isAppError, type ErrorCode } from '@/lib/errors';
import { env } from '@/lib/env';
import { errorSummary, logger } from '@/lib/logger';
import { redactSecrets } from '@/lib/redact';

/** Codes only the API produces: a bug (INTERNAL). Everything else is an AppError code shared with the UI. */
export const API_ONLY_CODES = ['INTERNAL'] as const;
export type ProblemCode = ErrorCode | (typeof API_ONLY_CODES)[number];

/**
 * The HTTP status of each error code. Request validation (zod) is 400 INVALID; a domain INVALID
 * (the request was well-formed but cannot be done) is 422. A hospital that refused or failed is
 * a bad gateway (502), or a gateway timeout (504); a URL Registrar refuses to call is 422.
 */
export const STATUS_BY_CODE: Record<ProblemCode, number> = {
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  CONFLICT: 409,
  INVALID: 422,
  RATE_LIMITED: 429,
  UPSTREAM_REJECTED: 502,
  UPSTREAM_UNREACHABLE: 502,
  BLOCKED_ADDRESS: 422,
  INSECURE_SCHEME: 422,
  INVALID_URL: 422,
  DNS_FAILURE: 502,
  TIMEOUT: 504,
  TOO_LARGE: 502,
  UNEXPECTED_REDIRECT: 502,
  INVALID_JSON: 502,
  CONNECTION_FAILED: 502,
  ISSUER_MISMATCH: 422,
  DISCOVERY_FAILED: 422,
  MISCONFIGURED: 500,
  NEEDS_RECOVERY: 502,
  VAULT_LOCKED: 503,
  VAULT_TAMPERED: 500,
  INTERNAL: 500,
};

/** Transport failures while discovering a server the caller named: the input is what failed (422). */
export const DISCOVERY_INPUT_CODES: readonly ErrorCode[] = ['DNS_FAILURE', 'TIMEOUT', 'TOO_LARGE', 'UNEXPECTED_REDIRECT', 'INVALID_JSON', 'CONNECTION_FAILED', 'UPSTREAM_UNREACHABLE'];

export const TITLE_BY_CODE: Record<ProblemCode, string> = {
  NOT_FOUND: 'Not found',
  FORBIDDEN: 'Forbidden',
  UNAUTHENTICATED: 'Unauthenticated',
  CONFLICT: 'Conflict',
  INVALID: 'Invalid request',
  RATE_LIMITED: 'Too many requests',
  UPSTREAM_REJECTED: 'The authorization server refused the request',
  UPSTREAM_UNREACHABLE: 'The authorization server could not be reached',
  BLOCKED_ADDRESS: 'Address not allowed',
  INSECURE_SCHEME: 'Insecure scheme',
  INVALID_URL: 'Invalid URL',
  DNS_FAILURE: 'DNS lookup failed',
  TIMEOUT: 'The authorization server timed out',
  TOO_LARGE: 'Response too large',
  UNEXPECTED_REDIRECT: 'Unexpected redirect',
  INVALID_JSON: 'Invalid JSON from the authorization server',
  CONNECTION_FAILED: 'Connection failed',
  ISSUER_MISMATCH: 'Issuer mismatch',
  DISCOVERY_FAILED: 'Discovery failed',
  MISCONFIGURED: 'Registrar is misconfigured',
  NEEDS_RECOVERY: 'Registered upstream but not saved',
  VAULT_LOCKED: 'Credential vault locked',
  VAULT_TAMPERED: 'Credential vault integrity failure',
  INTERNAL: 'Internal error',
};

export const PROBLEM_CODES = [...ERROR_CODES, ...API_ONLY_CODES] as const;

/** RFC 9457 problem details, with Registrar's stable `code` and safe context. */
export const problemSchema = z
  .object({
    type: z.string().describe('A URI naming the kind of problem: the error code’s section of the API page.'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What happened and what to do, for a person.'),
    code: z.enum(PROBLEM_CODES).describe('Stable machine-readable code, the same as the UI’s.'),
    instance: z.string().optional().describe('The request path.'),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('Each field that failed validation (400).'),
    field: z.string().optional().describe('The input field the problem concerns.'),
    permission: z.string().optional().describe('The permission that was missing (403).'),
    attempts: z.array(z.object({ kind: z.string(), url: z.string(), outcome: z.string(), message: z.string() })).optional().describe('What discovery tried (422 from POST /issuers).'),
    operationId: z.string().optional().describe('The registration operation to look for at the hospital (outcome unknown, recovery).'),
    upstream: z
      .object({ kind: z.string(), status: z.number().optional(), error: z.string().optional(), errorDescription: z.string().optional(), outcomeUnknown: z.boolean() })
      .optional()
      .describe('The authorization server’s answer, as given (never a secret).'),
    retryAfterSeconds: z.number().int().optional(),
  })
  .describe('RFC 9457 problem details');
export type Problem = z.infer<typeof problemSchema>;

export function problemType(code: ProblemCode): string {
  return `${env().REGISTRAR_PUBLIC_URL.replace(/\/$/, '')}/api-docs#problem-${code}`;
}

type ProblemInit = {
  code: ProblemCode;
  detail: string;
  status?: number;
  instance?: string;
  requestId?: string;
  extra?: Partial<Omit<Problem, 'type' | 'title' | 'status' | 'detail' | 'code'>>;
  headers?: Record<string, string>;
};

export function problemResponse(init: ProblemInit): Response {
  const status = init.status ?? STATUS_BY_CODE[init.code];
  const body: Problem = {
    type: problemType(init.code),
    title: TITLE_BY_CODE[init.code],
    status,
    detail: init.detail,
    code: init.code,
    ...(init.instance ? { instance: init.instance } : {}),
    ...(init.requestId ? { requestId: init.requestId } : {}),
    ...init.extra,
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...(init.requestId ? { 'X-Request-Id': init.requestId } : {}), ...init.headers },
  });
}

/** Zod issues as `{path, message}`, path in dotted form (`environments.production.scope`). */
export function validationErrors(error: z.ZodError, prefix?: string): Array<{ path: string; message: string }> {
  return error.issues.map((issue) => ({
    path: [...(prefix ? [prefix] : []), ...issue.path.map(String)].join('.') || '(root)',
    message: issue.message,
  }));
}

export function validationProblem(error: z.ZodError, ctx: { instance?: string; requestId?: string; where: 'body' | 'query' | 'path' | 'header' }): Response {
  const errors = validationErrors(error, ctx.where === 'body' ? undefined : ctx.where);
  const first = errors[0];
  return problemResponse({
    code: 'INVALID',
    status: 400,
    detail: first ? `${errors.length === 1 ? 'A field needs' : `${errors.length} fields need`} attention: ${first.path}: ${first.message}` : 'The request is not valid.',
    instance: ctx.instance,
    requestId: ctx.requestId,
    extra: { errors },
  });
}

/** AppError details that may be shown to the caller (nothing else leaves: details are for logs too). */
function safeExtra(details: Record<string, unknown> | undefined): ProblemInit['extra'] {
  if (!details) return {};
  const d = redactSecrets(details);
  const out: NonNullable<ProblemInit['extra']> = {};
  if (typeof d.field === 'string') out.field = d.field;
  if (typeof d.permission === 'string') out.permission = d.permission;
  if (typeof d.operationId === 'string') out.operationId = d.operationId;
  if (Array.isArray(d.attempts)) {
    out.attempts = d.attempts
      .filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null)
      .map((a) => ({ kind: String(a.kind ?? ''), url: String(a.url ?? ''), outcome: String(a.outcome ?? ''), message: String(a.message ?? '') }));
  }
  const upstream = d.registrationError;
  if (typeof upstream === 'object' && upstream !== null) {
    const u = upstream as Record<string, unknown>;
    out.upstream = {
      kind: String(u.kind ?? 'http'),
      ...(typeof u.status === 'number' ? { status: u.status } : {}),
      ...(typeof u.error === 'string' ? { error: u.error } : {}),
      ...(typeof u.errorDescription === 'string' ? { errorDescription: u.errorDescription } : {}),
      outcomeUnknown: u.outcomeUnknown === true,
    };
  }
  return out;
}

/** Any thrown value as a problem response: AppErrors by their code, zod errors as 400, the rest as a logged 500. */
export function problemFromError(error: unknown, ctx: { instance?: string; requestId?: string; statusOverrides?: Partial<Record<ErrorCode, number>>; operation?: string }): Response {
  if (isAppError(error)) {
    const status = ctx.statusOverrides?.[error.code] ?? STATUS_BY_CODE[error.code];
    const headers: Record<string, string> = {};
    if (error.code === 'UNAUTHENTICATED') {
      const reason = error.details?.reason === 'invalid_token' ? 'invalid_token' : null;
      headers['WWW-Authenticate'] = reason ? `Bearer realm="registrar", error="invalid_token"` : 'Bearer realm="registrar"';
    }
    return problemResponse({ code: error.code, status, detail: error.message, instance: ctx.instance, requestId: ctx.requestId, extra: safeExtra(error.details), headers });
  }
  if (error instanceof z.ZodError) return validationProblem(error, { instance: ctx.instance, requestId: ctx.requestId, where: 'body' });
  logger.error({ operation: ctx.operation, requestId: ctx.requestId, err: errorSummary(error) }, 'api request failed');
  return problemResponse({
    code: 'INTERNAL',
    detail: `Something went wrong on Registrar’s side. The error was logged${ctx.requestId ? ` with request id ${ctx.requestId}` : ''}.`,
    instance: ctx.instance,
    requestId: ctx.requestId,
  });
}
