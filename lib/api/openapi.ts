import 'server-only';
import { z } from 'zod';
import { env } from '@/lib/env';
import { ERROR_CODES, type ErrorCode } from '@/lib/errors';
import type { OperationSpec } from './operation';
import { operations } from './operations';
import { problemSchema, STATUS_BY_CODE, TITLE_BY_CODE } from './problem';

type JsonSchema = Record<string, unknown>;

/** zod → JSON Schema 2020-12 (the dialect of OpenAPI 3.1): inputs as they may be sent, outputs as they are returned. */
export function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete out.$schema;
  return out;
}

function parametersOf(schema: z.ZodObject | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = toSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return { name, in: where, required: where === 'path' || required.has(name), schema: rest, ...(typeof description === 'string' ? { description } : {}) };
  });
}

/** Every status an operation can answer with, the error codes behind each, always including the generic ones. */
export function errorStatuses(spec: OperationSpec): Map<number, string[]> {
  const codes = new Set<ErrorCode | 'INTERNAL'>(spec.errors);
  if (!spec.public) codes.add('UNAUTHENTICATED').add('RATE_LIMITED');
  if (!spec.public && spec.permission) codes.add('FORBIDDEN');
  codes.add('INTERNAL');
  const byStatus = new Map<number, string[]>();
  const add = (status: number, code: string) => byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  if (spec.params || spec.query || spec.body || spec.headers) add(400, 'INVALID (request validation)');
  if (spec.body) add(413, 'INVALID (request body over 1 MB)');
  for (const code of codes) add((code !== 'INTERNAL' ? spec.statusOverrides?.[code] : undefined) ?? STATUS_BY_CODE[code], code);
  // A domain INVALID (well-formed but impossible) can come from any operation that takes input.
  if (spec.body || spec.params) add(422, 'INVALID');
  return new Map([...byStatus.entries()].map(([s, c]) => [s, [...new Set(c)]]));
}

function operationObject(spec: OperationSpec): JsonSchema {
  const parameters = [
    ...parametersOf(spec.params, 'path'),
    ...parametersOf(spec.query, 'query'),
    ...Object.entries(spec.headers ?? {}).map(([name, h]) => ({ name, in: 'header', required: h.required, description: h.description, schema: toSchema(h.schema, 'input') })),
  ];
  const responses: Record<string, JsonSchema> = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([name, h]) => [name, { description: h.description, schema: h.schema }])) } : {}),
      ...(r.schema ? { content: { 'application/json': { schema: toSchema(r.schema, 'output') } } } : { content: { 'application/json': { schema: { type: 'object' } } } }),
    };
  }
  for (const [status, codes] of [...errorStatuses(spec).entries()].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: `Problem: ${codes.join(', ')}.`,
      ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds until the window resets.', schema: { type: 'integer' } } } } : {}),
      ...(status === 401 ? { headers: { 'WWW-Authenticate': { description: 'Bearer challenge (RFC 6750).', schema: { type: 'string' } } } } : {}),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    ...(spec.public ? { security: [] } : {}),
    'x-permission': spec.permission,
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body ? { requestBody: { required: spec.bodyOptional !== true, content: { 'application/json': { schema: toSchema(spec.body, 'input') } } } } : {}),
    responses,
  };
}

const INTRO = `Registrar’s machine interface. JSON in and out; times are ISO 8601 in UTC.

**Authentication.** \`Authorization: Bearer rgt_…\` with an API token an admin created (Settings → API tokens, or \`npm run token:create\`). A token has a role and optionally a subset of that role’s permissions; each operation names the permission it needs (\`x-permission\`). A missing, unknown, revoked or expired token is 401.

**Rate limit.** Each token may make a fixed number of requests per window (default 120 per minute; \`REGISTRAR_API_RATE_LIMIT\`, \`REGISTRAR_API_RATE_WINDOW_SECONDS\`). Every answer carries \`RateLimit-Limit\`, \`RateLimit-Remaining\` and \`RateLimit-Reset\`; over the limit, 429 with \`Retry-After\` (seconds).

**Request bodies** are JSON (\`Content-Type: application/json\`, UTF-8) of at most 1 MB; a larger one is 413 before it is read further.

**Errors** are RFC 9457 problem details (\`application/problem+json\`) with \`type\`, \`title\`, \`status\`, \`detail\` and a stable \`code\`, the same codes the UI uses. A refused call (403) changes nothing and is audited.

**Lists** take \`page\` and \`pageSize\` and answer \`{items, page, pageSize, total}\`.

**Audit.** Every change is audited with the token as the actor (in the same transaction as the change), as is every credentials read, every refused call (403) and every use of a revoked or expired token. Plain reads are not audited row by row; the token's last use is kept.`;

export function statusTable(): Array<{ code: string; status: number; title: string }> {
  return [...ERROR_CODES, 'INTERNAL' as const].map((code) => ({ code, status: STATUS_BY_CODE[code], title: TITLE_BY_CODE[code] }));
}

/** The OpenAPI 3.1 document for /api/v1, generated from the operation registry. */
export function buildOpenApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of Object.values(operations) as OperationSpec[]) {
    paths[spec.path] ??= {};
    paths[spec.path]![spec.method.toLowerCase()] = operationObject(spec);
  }
  const codes = statusTable()
    .map((r) => `| \`${r.code}\` | ${r.status} | ${r.title} |`)
    .join('\n');
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Registrar API',
      version: '1.0.0',
      description: `${INTRO}\n\n| code | status | title |\n| --- | --- | --- |\n${codes}\n\nRequest validation errors are 400 \`INVALID\` with \`errors: [{path, message}]\`, including a body field the operation does not know (a misspelling is refused, never ignored); a well-formed request the domain refuses is 422 \`INVALID\`. POST /issuers answers discovery transport failures with 422.`,
    },
    servers: [{ url: `${env().REGISTRAR_PUBLIC_URL.replace(/\/$/, '')}/api/v1` }],
    security: [{ bearerAuth: [] }],
    tags: [...new Set((Object.values(operations) as OperationSpec[]).map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'rgt_ followed by 43 base64url characters', description: 'An API token.' } },
      schemas: { Problem: toSchema(problemSchema, 'output') },
    },
  };
}
