// Test support: API tokens per role and a tiny client that calls the route handlers in-process.
import { expect } from 'vitest';
import type { Role } from '@/db/schema';
import { systemActor } from '@/lib/auth/actor';
import type { Permission } from '@/lib/auth/permissions';
import { createApiToken } from '../tokens';
import { operations, type OperationId } from '../operations';
import { problemSchema } from '../problem';
import { dispatch } from './routes';

export async function makeToken(role: Role, opts: { permissions?: Permission[]; expiresInDays?: number; name?: string } = {}) {
  const created = await createApiToken(systemActor('test'), { name: opts.name ?? `test-${role}`, role, permissions: opts.permissions, expiresInDays: opts.expiresInDays });
  return created;
}

export type ApiResult = { status: number; headers: Headers; body: unknown; text: string; contentType: string };

export async function call(method: string, path: string, opts: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResult> {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set('authorization', `Bearer ${opts.token}`);
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  const response = await dispatch(new Request(`http://registrar.test/api/v1${path}`, { method, headers, body }));
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: response.status, headers: response.headers, body: parsed, text, contentType };
}

/** The body matches the response schema the OpenAPI document publishes for this operation and status. */
export function expectContract(operationId: OperationId, res: ApiResult, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.contentType).toMatch(/^application\/json/);
  const spec = operations[operationId].responses as Record<number, { schema?: import('zod').ZodType }>;
  const schema = spec[status]?.schema;
  expect(schema, `${operationId} documents ${status}`).toBeDefined();
  const parsed = schema!.safeParse(res.body);
  expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 5))).toBe(true);
  return res.body as Record<string, unknown>;
}

/** RFC 9457 shape with Registrar's code, and the status the code maps to. */
export function expectProblem(res: ApiResult, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.contentType).toMatch(/^application\/problem\+json/);
  const parsed = problemSchema.safeParse(res.body);
  expect(parsed.success, res.text).toBe(true);
  const body = res.body as Record<string, unknown>;
  expect(body).toMatchObject({ status, code });
  expect(typeof body.type).toBe('string');
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(String(body.type)).toContain(`#problem-${code}`);
  return body;
}
