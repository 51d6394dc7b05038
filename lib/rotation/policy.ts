import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrations } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { setRotationPolicySchema, type SetRotationPolicyInput } from './schemas';

/** `automatic`: the scheduled scan rotates the credential when it is due; `manual` (the default): it raises a warning. */
export async function setRotationPolicy(actor: Actor, input: SetRotationPolicyInput): Promise<{ registrationId: string; policy: 'automatic' | 'manual' }> {
  assertCan(actor, 'registrations:write');
  const { registrationId, policy } = setRotationPolicySchema.parse(input);
  return getDb().transaction(async (tx) => {
    const [row] = await tx.update(registrations).set({ rotationPolicy: policy }).where(eq(registrations.id, registrationId)).returning({ id: registrations.id });
    if (!row) throw new AppError('NOT_FOUND', 'That registration does not exist.');
    await recordAudit(tx, actor, { action: 'rotation.policy', targetType: 'registration', targetId: registrationId, details: { policy } });
    return { registrationId, policy };
  });
}
