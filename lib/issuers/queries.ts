import 'server-only';
import { desc, eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { discoveryRuns, healthSystems, issuers } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { isUuid } from '@/lib/ids';

export async function getIssuerOrThrow(actor: Actor, id: string) {
  assertCan(actor, 'health-systems:read');
  if (!isUuid(id)) throw new AppError('NOT_FOUND', 'That issuer does not exist.');
  const [row] = await getDb()
    .select({ issuer: issuers, healthSystemName: healthSystems.name })
    .from(issuers)
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .where(eq(issuers.id, id))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That issuer does not exist.');
  return { ...row.issuer, healthSystemName: row.healthSystemName };
}

/** Discovery history, newest first; the full result of each run (raw documents included). */
export async function listDiscoveryRuns(actor: Actor, issuerId: string, limit = 20) {
  assertCan(actor, 'health-systems:read');
  return getDb()
    .select()
    .from(discoveryRuns)
    .where(eq(discoveryRuns.issuerId, issuerId))
    .orderBy(desc(discoveryRuns.finishedAt))
    .limit(limit);
}

/** Issuers for the onboarding wizard's picker, grouped by health system on the page. */
export async function listIssuersForOnboarding(actor: Actor) {
  assertCan(actor, 'health-systems:read');
  const rows = await getDb()
    .select({
      id: issuers.id,
      healthSystemId: issuers.healthSystemId,
      healthSystemName: healthSystems.name,
      environment: issuers.environment,
      issuerUrl: issuers.issuerUrl,
      inputUrl: issuers.inputUrl,
      endpoints: issuers.endpoints,
    })
    .from(issuers)
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .orderBy(healthSystems.name, issuers.environment);
  return rows.map(({ endpoints, ...r }) => ({ ...r, label: r.issuerUrl ?? r.inputUrl, canRegister: Boolean(endpoints.registration) }));
}
