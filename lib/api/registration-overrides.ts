import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrations } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import type { RegistrationOverrides } from '@/lib/registrations/build-request';

/**
 * The overrides a registration holds (the changes to the app profile it was registered or last
 * synced with), for its API representation; null when none. A read of its own because
 * getRegistrationOrThrow (lib/registrations/queries.ts) does not select them.
 */
export async function readRegistrationOverrides(actor: Actor, registrationId: string): Promise<RegistrationOverrides | null> {
  assertCan(actor, 'registrations:read');
  const [row] = await getDb().select({ overrides: registrations.registrationOverrides }).from(registrations).where(eq(registrations.id, registrationId)).limit(1);
  const overrides = (row?.overrides ?? null) as RegistrationOverrides | null;
  return overrides && Object.keys(overrides).length > 0 ? overrides : null;
}
