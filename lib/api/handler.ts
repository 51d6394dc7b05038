import 'server-only';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { getDb } from '@/db/client';
import { assertCan } from '@/lib/auth/actor';
import { recordAudit } from '@/lib/audit/record';
import { AppError, isAppError } from '@/lib/errors';
import type { OperationSpec } from './operation';
import { problemFromError, problemResponse, validationProblem } from './problem';
import { consumeRateLimit } from './rate-limit';
import { authenticateApiToken, type TokenActor } from './tokens';
import { unknownFields } from './unknown-fields';

type Output<T> = T extends z.ZodType ? z.output<T> : undefined;
type Input<T> = T extends z.ZodType ? z.input<T> : undefined;

export type ApiContext<S extends OperationSpec> = {
  actor: S['public'] extends true ? null : TokenActor;
  request: Request;
  requestId: string;
  params: Output<S['params']>;
  query: Output<S['query']>;
  /** The body as it arrived, once it passed the schema: domain functions parse it again themselves. */
  body: Input<S['body']>;
  headers: Record<string, string | undefined>;
};

/** The route handler Next.js calls; `operation` lets tests check that each file serves what the document says. */
export type ApiRouteHandler = ((request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>) & { operation: OperationSpec };

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,100}$/;

/** A JSON response. Dates serialise as ISO 8601 UTC (Date#toJSON). */
export function jsonResponse(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(data), { status, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers } });
}

/**
 * The one way to build an /api/v1 route: bearer token → rate limit → permission → path, query,
 * header and body validation (400) → handler → problem+json for every failure. A refused call
 * (403) is audited and changes nothing: the permission is checked before the body is even read.
 */
export function apiRoute<S extends OperationSpec>(spec: S, handler: (ctx: ApiContext<S>) => Promise<Response>): ApiRouteHandler {
  const route = async (request: Request, context: { params: Promise<Record<string, string>> }) => {
    const incoming = request.headers.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const instance = new URL(request.url).pathname;
    const extraHeaders: Record<string, string> = { 'X-Request-Id': requestId };
    let actor: TokenActor | null = null;
    try {
      if (!spec.public) {
        actor = await authenticateApiToken(request.headers.get('authorization'), requestId);
        const limit = await consumeRateLimit(actor.id);
        extraHeaders['RateLimit-Limit'] = String(limit.limit);
        extraHeaders['RateLimit-Remaining'] = String(limit.remaining);
        extraHeaders['RateLimit-Reset'] = String(limit.resetSeconds);
        if (!limit.allowed) {
          return problemResponse({
            code: 'RATE_LIMITED',
            detail: `This token made more than ${limit.limit} requests in the current window. Retry after ${limit.resetSeconds} s.`,
            instance,
            requestId,
            extra: { retryAfterSeconds: limit.resetSeconds },
            headers: { ...extraHeaders, 'Retry-After': String(limit.resetSeconds) },
          });
        }
        if (spec.permission) assertCan(actor, spec.permission);
      }

      const rawParams = (await context?.params) ?? {};
      const params = spec.params ? spec.params.safeParse(rawParams) : null;
      if (params && !params.success) return withHeaders(validationProblem(params.error, { instance, requestId, where: 'path' }), extraHeaders);

      const url = new URL(request.url);
      const query = spec.query ? spec.query.safeParse(Object.fromEntries(url.searchParams.entries())) : null;
      if (query && !query.success) return withHeaders(validationProblem(query.error, { instance, requestId, where: 'query' }), extraHeaders);

      const headers: Record<string, string | undefined> = {};
      for (const [name, h] of Object.entries(spec.headers ?? {})) {
        const value = request.headers.get(name);
        if (value === null && !h.required) continue;
        const parsed = h.schema.safeParse(value ?? undefined);
        if (!parsed.success) {
          const missing = value === null;
          return withHeaders(
            problemResponse({
              code: 'INVALID',
              status: 400,
              detail: missing ? `The ${name} header is required.` : `The ${name} header is not valid: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
              instance,
              requestId,
              extra: { errors: missing ? [{ path: `header.${name}`, message: `The ${name} header is required.` }] : parsed.error.issues.map((i) => ({ path: `header.${name}`, message: i.message })) },
            }),
            extraHeaders,
          );
        }
        headers[name] = value ?? undefined;
      }

      let body: unknown = undefined;
      if (spec.body) {
        const raw = await readJson(request, spec.bodyOptional === true);
        if (!raw.ok) return withHeaders(problemResponse({ code: 'INVALID', status: raw.status, detail: raw.message, instance, requestId, extra: { errors: [{ path: '(body)', message: raw.message }] } }), extraHeaders);
        const parsed = spec.body.safeParse(raw.value);
        if (!parsed.success) return withHeaders(validationProblem(parsed.error, { instance, requestId, where: 'body' }), extraHeaders);
        // A misspelt field would otherwise be dropped in silence (zod objects strip unknown keys).
        const unknown = unknownFields(spec.body, raw.value);
        if (unknown.length > 0) {
          const detail = `${unknown.length === 1 ? 'A field is' : `${unknown.length} fields are`} not part of this request: ${unknown.slice(0, 10).join(', ')}. Check the spelling against the API reference (/api-docs).`;
          return withHeaders(
            problemResponse({ code: 'INVALID', status: 400, detail, instance, requestId, extra: { errors: unknown.map((p) => ({ path: p, message: 'Unknown field.' })) } }),
            extraHeaders,
          );
        }
        body = raw.value;
      }

      const response = await handler({
        actor: actor as ApiContext<S>['actor'],
        request,
        requestId,
        params: (params?.data ?? undefined) as ApiContext<S>['params'],
        query: (query?.data ?? undefined) as ApiContext<S>['query'],
        body: body as ApiContext<S>['body'],
        headers,
      });
      return withHeaders(response, extraHeaders);
    } catch (error) {
      if (actor && isAppError(error) && error.code === 'FORBIDDEN') {
        // Who tried what, refused: the same record a refused action leaves.
        await recordAudit(getDb(), actor, {
          action: `api.${spec.operationId}`,
          targetType: 'api',
          targetId: instance,
          outcome: 'denied',
          details: { method: spec.method, permission: error.details?.permission ?? spec.permission },
        }).catch(() => {});
      }
      return withHeaders(problemFromError(error, { instance, requestId, statusOverrides: spec.statusOverrides, operation: spec.operationId }), extraHeaders);
    }
  };
  return Object.assign(route, { operation: spec as OperationSpec });
}

function withHeaders(response: Response, headers: Record<string, string>): Response {
  for (const [k, v] of Object.entries(headers)) if (!response.headers.has(k)) response.headers.set(k, v);
  return response;
}

/** The largest request body an operation reads, in bytes (the documented 413). */
export const MAX_BODY_BYTES = 1_000_000;

type BodyRefusal = { ok: false; status: 400 | 413; message: string };
const TOO_LARGE: BodyRefusal = { ok: false, status: 413, message: 'The request body is too large (1 MB at most).' };

async function readJson(request: Request, optional: boolean): Promise<{ ok: true; value: unknown } | BodyRefusal> {
  const type = request.headers.get('content-type') ?? '';
  if (type && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) return { ok: false, status: 400, message: `Send the body as JSON (Content-Type: application/json), not ${type.split(';')[0]}.` };
  const bytes = await readAtMost(request, MAX_BODY_BYTES);
  if (bytes === null) return TOO_LARGE;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, status: 400, message: 'The request body is not valid UTF-8.' };
  }
  if (text.trim() === '') return optional ? { ok: true, value: {} } : { ok: false, status: 400, message: 'The request needs a JSON body.' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, status: 400, message: 'The request body is not valid JSON.' };
  }
}

/**
 * The body's bytes, or null once it is longer than `limit`: a declared Content-Length over the
 * limit is refused before reading, and an undeclared (chunked) body is read only up to the limit,
 * so an endless or huge body costs at most `limit` bytes of memory.
 */
async function readAtMost(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) return null;
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** For handlers: refuse with a coded error the same way a domain function would. */
export function fail(code: ConstructorParameters<typeof AppError>[0], message: string, details?: Record<string, unknown>): never {
  throw new AppError(code, message, details);
}
