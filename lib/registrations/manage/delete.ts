import 'server-only';
import { and, eq, notInArray } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrations, rotations } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { deleteClientRegistration } from '@/lib/oauth/registration';
import { withRegistrationLock } from './lock';
import { deleteRegistrationSchema, type DeleteRegistrationInput } from './schemas';
import { currentRegistrationAccessToken, failManagementCall, loadManageableRegistration, managementFetchInit, type ManageDeps } from './shared';

/**
 * A client that a rotation registered and has not switched to yet is that rotation's to use or
 * drop: deleting it under the rotation would leave it switching to a dead client (and then retiring
 * the old one). The rotation is abandoned first (the old client stays current), then this deleted.
 */
async function assertNotAwaitedByRotation(registrationId: string): Promise<void> {
  const [pending] = await getDb()
    .select({ id: rotations.id, registrationId: rotations.registrationId })
    .from(rotations)
    .where(and(eq(rotations.newRegistrationId, registrationId), notInArray(rotations.state, ['current', 'failed'])))
    .limit(1);
  if (pending) {
    throw new AppError(
      'CONFLICT',
      `This client was registered by a rotation of registration ${pending.registrationId} that has not switched to it yet. Abandon that rotation first (its old client stays current), then delete this one.`,
      { rotationId: pending.id, registrationId: pending.registrationId },
    );
  }
}

export const DELETE_NOT_ALLOWED_MESSAGE = 'This server does not allow deletion; revoke the client with the hospital.';

export type DeleteResult = { registrationId: string; deletedAt: string };

/**
 * RFC 7592 §2.3: deletes the client at the hospital. 204 → the registration is kept with its
 * history (credentials included, unchanged) as `deleted`; 405 → the server does not delete
 * clients and the registration stays active; 401 → management lost.
 */
export async function deleteRegistration(actor: Actor, input: DeleteRegistrationInput, deps: ManageDeps = {}): Promise<DeleteResult> {
  assertCan(actor, 'registrations:write');
  const { registrationId } = deleteRegistrationSchema.parse(input);
  return withRegistrationLock(registrationId, async () => {
    const reg = await loadManageableRegistration(registrationId);
    await assertNotAwaitedByRotation(reg.id);
    const rat = await currentRegistrationAccessToken(reg);
    let outcome: Awaited<ReturnType<typeof deleteClientRegistration>>;
    try {
      outcome = await deleteClientRegistration({ registrationClientUri: reg.registrationClientUri, registrationAccessToken: rat, fetchInit: await managementFetchInit(deps) });
    } catch (error) {
      throw await failManagementCall(actor, reg, 'delete', error);
    }
    if (!outcome.deleted) {
      const error = new AppError('UPSTREAM_REJECTED', DELETE_NOT_ALLOWED_MESSAGE, { status: 405, reason: 'delete_not_allowed' });
      throw await failManagementCall(actor, reg, 'delete', error, { status: 405, reason: 'delete_not_allowed' });
    }
    const now = new Date();
    await getDb().transaction(async (tx) => {
      await tx.update(registrations).set({ status: 'deleted', deletedAt: now, attentionReason: null, updatedAt: now }).where(eq(registrations.id, reg.id));
      await recordAudit(tx, actor, { action: 'registration.delete', targetType: 'registration', targetId: reg.id, details: { clientId: reg.clientId, previousStatus: reg.status } });
    });
    return { registrationId: reg.id, deletedAt: now.toISOString() };
  });
}
