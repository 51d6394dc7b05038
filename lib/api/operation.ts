// What an API operation is: method, path, permission and the zod schemas that both validate the
// request and describe it in the OpenAPI document. No server code here (the docs page imports it).
import type { z } from 'zod';
import type { Permission } from '@/lib/auth/permissions';
import type { ErrorCode } from '@/lib/errors';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type ResponseSpec = {
  description: string;
  schema?: z.ZodType;
  headers?: Record<string, { description: string; schema: { type: 'string' | 'integer' } }>;
};

export type OperationSpec = {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI form, relative to /api/v1: `/registrations/{id}`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  /** Checked before anything else; null: any valid token. */
  permission: Permission | null;
  /** No token needed (the OpenAPI document itself). */
  public?: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** An empty body is read as `{}` (every field of the body has a default). */
  bodyOptional?: boolean;
  /** Request headers the operation reads (name → schema), e.g. Idempotency-Key. */
  headers?: Record<string, { schema: z.ZodType; required: boolean; description: string }>;
  responses: Record<number, ResponseSpec>;
  /** Error codes this operation may answer with (documented with their statuses). */
  errors: readonly ErrorCode[];
  /** Per-operation status for codes whose meaning differs here (e.g. discovery failures → 422). */
  statusOverrides?: Partial<Record<ErrorCode, number>>;
};

export function defineOperation<const S extends OperationSpec>(spec: S): S {
  return spec;
}
