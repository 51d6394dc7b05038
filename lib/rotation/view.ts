import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrations, type Rotation, type RotationState, type RotationStrategy } from '@/db/schema';

/** A rotation as the page and the API show it: no credential values, no URIs with tokens. */
export type RotationView = {
  id: string;
  registrationId: string;
  strategy: RotationStrategy;
  fallbackFrom: RotationStrategy | null;
  state: RotationState;
  trigger: Rotation['trigger'];
  steps: string[];
  why: string;
  attempt: number;
  nextAttemptAt: string | null;
  /** Stopped after too many unfinished runs: waits for a person's retry (or abandon). */
  stalledAt: string | null;
  error: { code: string; message: string; at: string } | null;
  /** An RFC 7592 update was sent at this time and its outcome is not known yet (its run will ask the hospital). */
  updateSentAt: string | null;
  newRegistrationId: string | null;
  newClientId: string | null;
  newExpiry: { kind: 'never' | 'at' | 'unknown' | 'none'; at: string | null } | null;
  verifiedBy: string | null;
  cleanupAt: string | null;
  cleanupDoneAt: string | null;
  cleanupError: string | null;
  createdBy: string | null;
  createdAt: string;
  finishedAt: string | null;
};

export async function toRotationView(rot: Rotation): Promise<RotationView> {
  let newClientId: string | null = null;
  if (rot.newRegistrationId) {
    const [row] = await getDb().select({ clientId: registrations.clientId }).from(registrations).where(eq(registrations.id, rot.newRegistrationId)).limit(1);
    newClientId = row?.clientId ?? null;
  }
  return {
    id: rot.id,
    registrationId: rot.registrationId,
    strategy: rot.strategy,
    fallbackFrom: rot.fallbackFrom,
    state: rot.state,
    trigger: rot.trigger,
    steps: rot.plan.steps,
    why: rot.plan.why,
    attempt: rot.attempt,
    nextAttemptAt: rot.nextAttemptAt?.toISOString() ?? null,
    stalledAt: rot.stalledAt?.toISOString() ?? null,
    error: rot.error ?? null,
    updateSentAt: rot.state === 'current' || rot.state === 'failed' ? null : (rot.putStartedAt?.toISOString() ?? null),
    newRegistrationId: rot.newRegistrationId,
    newClientId,
    newExpiry: rot.newExpiry ?? null,
    verifiedBy: rot.verifiedBy,
    cleanupAt: rot.cleanupAt?.toISOString() ?? null,
    cleanupDoneAt: rot.cleanupDoneAt?.toISOString() ?? null,
    cleanupError: rot.cleanupError,
    createdBy: rot.createdBy,
    createdAt: rot.createdAt.toISOString(),
    finishedAt: rot.finishedAt?.toISOString() ?? null,
  };
}
