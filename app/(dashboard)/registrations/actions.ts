'use server';

import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { defineAction, type ActionResult } from '@/lib/actions/define-action';
import { revealRegistrationSecret } from '@/lib/credentials/reveal';
import { previewRegistration } from '@/lib/registrations/preview';
import { findOperationByIdempotencyKey } from '@/lib/registrations/reconcile';
import { registerApp, type RegisterResult } from '@/lib/registrations/register';
import { previewSchema, registerSchema } from '@/lib/registrations/schemas';
import { previewUdapStatement } from '@/lib/registrations/udap';
import { startBulkRotation } from '@/lib/rotation/bulk';
import { bulkRotationSchema } from '@/lib/rotation/schemas';

export const previewRegistrationAction = defineAction({
  name: 'previewRegistration',
  permission: 'registrations:write',
  schema: previewSchema,
  handler: (actor, input) => previewRegistration(actor, input),
});

/** The UDAP statement that Register would send, decoded (header and claims; never the signed JWT). */
export const previewUdapStatementAction = defineAction({
  name: 'previewUdapStatement',
  permission: 'registrations:write',
  schema: previewSchema,
  handler: (actor, input) => previewUdapStatement(actor, input),
});

const register = defineAction({
  name: 'registerApp',
  permission: 'registrations:write',
  schema: registerSchema,
  handler: async (actor, input) => {
    const result = await registerApp(actor, input);
    revalidatePath('/registrations');
    return result;
  },
});

const operationForSubmission = defineAction({
  name: 'findOperationByIdempotencyKey',
  permission: 'registrations:write',
  schema: z.object({ idempotencyKey: z.string().min(16).max(200) }),
  handler: (actor, input) => findOperationByIdempotencyKey(actor, input.idempotencyKey),
});

/**
 * Returns ids only: the secret is never part of this result (see revealSecretAction). A failure
 * that left an operation behind (unknown outcome, recovery, refusal) carries its id, so the form
 * can link to the operation page.
 */
/**
 * `submission`: what became of this submission's own operation when it failed. `none` (refused
 * before anything was written) and `failed` (the hospital's definite refusal) may be corrected and
 * sent again under a new idempotency key; any other status (in flight, outcome unknown, needs
 * recovery) keeps the key, so pressing Register again can never register a second client.
 */
export async function registerAction(raw: unknown): Promise<ActionResult<RegisterResult> & { operationId?: string; submission?: string }> {
  const result = await register(raw);
  if (result.ok || result.error.code === 'UNAUTHENTICATED' || result.error.code === 'FORBIDDEN') return result;
  const idempotencyKey = typeof raw === 'object' && raw !== null && 'idempotencyKey' in raw ? String(raw.idempotencyKey) : '';
  const operation = await operationForSubmission({ idempotencyKey });
  const own = operation.ok ? operation.data : null;
  const submission = own?.status ?? 'none';
  // Refused because of another operation (an earlier submission whose outcome is unknown): link to that one.
  if (result.error.operationId) return { ...result, operationId: result.error.operationId, submission };
  return own && own.status !== 'succeeded' ? { ...result, operationId: own.id, submission } : { ...result, submission };
}

/** The audited reveal path (ops and admins). */
export const revealSecretAction = defineAction({
  name: 'revealSecret',
  permission: 'credentials:reveal',
  schema: z.object({ registrationId: z.uuid(), kind: z.enum(['client_secret', 'registration_access_token']) }),
  handler: (actor, input) => revealRegistrationSecret(actor, input),
});

/** Ops rotate a selection of the registrations table; the answer carries the bulk id of its progress page (never a credential). */
export const startBulkRotationAction = defineAction({
  name: 'startBulkRotation',
  permission: 'registrations:write',
  schema: bulkRotationSchema,
  handler: async (actor, input) => {
    const result = await startBulkRotation(actor, input);
    revalidatePath('/registrations');
    return result;
  },
});
