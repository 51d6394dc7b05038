import 'server-only';
import { z } from 'zod';
import { getSessionState } from '@/lib/auth/session';
import { assertCan, type Actor } from '@/lib/auth/actor';
import type { Permission } from '@/lib/auth/permissions';
import { AppError, isAppError, type ErrorCode } from '@/lib/errors';
import { errorSummary, logger } from '@/lib/logger';
import { recordAudit } from '@/lib/audit/record';
import { getDb } from '@/db/client';
import { isUuid } from '@/lib/ids';

export type ActionError = {
  code: ErrorCode | 'INTERNAL';
  message: string;
  /** What was tried, for failures that need explaining (e.g. each discovery attempt). Never secrets. */
  attempts?: Array<{ kind: string; url: string; outcome: string; message: string }>;
  /** The registration operation the failure is about, when it names one (the form links to its page). */
  operationId?: string;
};
export type ActionResult<T> =
  | { ok: true; data: T }
  | { ok: false; error: ActionError; fieldErrors?: Record<string, string[]> };

/**
 * The handler receives the input as it arrived (`z.input`) once it has passed the schema: domain
 * functions parse it again themselves, because they are also called by the API and scripts.
 */
type Handler<S extends z.ZodType, T> = (actor: Actor, input: z.input<S>) => Promise<T>;

/**
 * The one way to build a server action: session → permission → zod parse → handler → error
 * mapping. The permission is checked here AND inside the domain function, so a hand-crafted
 * POST to the action endpoint is refused even if a page forgot to hide a button.
 * Expected failures are returned; anything else is logged (without input) and returned as INTERNAL.
 */
export function defineAction<S extends z.ZodType, T>(spec: { name: string; permission: Permission | null; schema: S; handler: Handler<S, T> }) {
  return async (raw: unknown): Promise<ActionResult<T>> => {
    const session = await getSessionState();
    if (session.status !== 'signed-in') {
      return { ok: false, error: { code: 'UNAUTHENTICATED', message: 'Your session has ended. Sign in again.' } };
    }
    const actor = session.actor;
    try {
      if (spec.permission) assertCan(actor, spec.permission);
      const input = raw instanceof FormData ? formDataToObject(raw) : raw;
      const parsed = spec.schema.safeParse(input);
      if (!parsed.success) {
        return {
          ok: false,
          error: { code: 'INVALID', message: 'Some fields need attention.' },
          fieldErrors: fieldErrorsOf(parsed.error),
        };
      }
      return { ok: true, data: await spec.handler(actor, input as z.input<S>) };
    } catch (error) {
      if (isAppError(error) && error.code === 'FORBIDDEN') {
        // Refused attempts are part of the record: who tried what.
        await recordAudit(getDb(), actor, { action: `action.${spec.name}`, outcome: 'denied' }).catch(() => {});
      }
      return toActionFailure(spec.name, error);
    }
  };
}

export function toActionFailure(name: string, error: unknown): { ok: false; error: ActionError; fieldErrors?: Record<string, string[]> } {
  if (isAppError(error)) {
    const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
    // A hospital's RFC 7591 error names the metadata field it refuses (redirect_uris): shown at the
    // form's field for it too, which forms name in camel case (redirectUris).
    const upstream = (error.details?.registrationError as { field?: unknown } | undefined)?.field;
    const fields = [...new Set([field, ...(typeof upstream === 'string' ? [upstream, camelCase(upstream)] : [])].filter((f): f is string => Boolean(f)))];
    const attempts = Array.isArray(error.details?.attempts) ? (error.details.attempts as ActionError['attempts']) : undefined;
    const operationId = typeof error.details?.operationId === 'string' && isUuid(error.details.operationId) ? error.details.operationId : undefined;
    return {
      ok: false,
      error: { code: error.code, message: error.message, ...(attempts ? { attempts } : {}), ...(operationId ? { operationId } : {}) },
      ...(fields.length ? { fieldErrors: Object.fromEntries(fields.map((f) => [f, [error.message]])) } : {}),
    };
  }
  if (error instanceof z.ZodError) {
    return { ok: false, error: { code: 'INVALID', message: 'Some fields need attention.' }, fieldErrors: fieldErrorsOf(error) };
  }
  logger.error({ action: name, err: errorSummary(error) }, 'action failed');
  return { ok: false, error: { code: 'INTERNAL', message: 'Something went wrong on our side. The error was logged.' } };
}

/**
 * Each issue's message under its top-level key (as zod's flattenError files it), and, for a nested
 * field, also under its full path (`profile.clientUri`) and its own name (`clientUri`): forms name
 * their inputs by the field, while schemas often nest them (`{ appId, profile: { … } }`,
 * `{ overrides: { … } }`), and an error filed only under `profile` was shown next to nothing.
 * Array positions are skipped (`contacts.1` → `contacts`).
 */
export function fieldErrorsOf(error: z.ZodError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (key: string, message: string) => {
    const list = (out[key] ??= []);
    if (!list.includes(message)) list.push(message);
  };
  for (const issue of error.issues) {
    const names = issue.path.filter((p): p is string => typeof p === 'string');
    if (names.length === 0) continue;
    add(names[0]!, issue.message);
    if (names.length > 1) {
      add(names.join('.'), issue.message);
      add(names[names.length - 1]!, issue.message);
    }
  }
  return out;
}

function formDataToObject(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of form.entries()) {
    if (key.startsWith('$ACTION')) continue;
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else out[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

export { AppError };

const camelCase = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
