import 'server-only';
import { eq } from 'drizzle-orm';
import { registrations } from '@/db/schema';
import { auditedMutation } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { setRotationPolicySchema, type SetRotationPolicyInput } from './schemas';

/** `automatic`: the scheduled scan rotates the credential when it is due; `manual` (the default): it raises a warning. */
export async function setRotationPolicy(actor: Actor, input: SetRotationPolicyInput): Promise<{ registrationId: string; policy: 'automatic' | 'manual' }> {
  const { registrationId, policy } = setRotationPolicySchema.parse(input);
  // Refusals and failures are audited too (auditedMutation), not only the changes.
  return auditedMutation(actor, { action: 'rotation.policy', targetType: 'registration', targetId: registrationId, details: { policy } }, async (tx) => {
    assertCan(actor, 'registrations:write');
    const [row] = await tx.update(registrations).set({ rotationPolicy: policy }).where(eq(registrations.id, registrationId)).returning({ id: registrations.id });
    if (!row) throw new AppError('NOT_FOUND', 'That registration does not exist.');
    return { result: { registrationId, policy } };
  });
}
