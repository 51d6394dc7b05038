import 'server-only';
import { asc, eq, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { healthSystems, issuers } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { isUuid } from '@/lib/ids';

const SEVERITY_RANK = sql`case w->>'severity' when 'error' then 3 when 'warning' then 2 when 'info' then 1 else 0 end`;

/** The list page: issuer counts and the worst warning over each system's issuers, in one query. */
export async function listHealthSystems(actor: Actor) {
  assertCan(actor, 'health-systems:read');
  return getDb()
    .select({
      id: healthSystems.id,
      name: healthSystems.name,
      tags: healthSystems.tags,
      issuerCount: sql<number>`(select count(*)::int from issuers i where i.health_system_id = health_systems.id)`,
      registrationCount: sql<number>`(select count(*)::int from registrations r join issuers i on i.id = r.issuer_id where i.health_system_id = health_systems.id and r.status <> 'deleted')`,
      worstWarning: sql<{ code: string; severity: string; message: string } | null>`(
        select w from issuers i, jsonb_array_elements(i.warnings) w
        where i.health_system_id = health_systems.id
        order by ${SEVERITY_RANK} desc limit 1)`,
      needsAttention: sql<boolean>`exists (select 1 from issuers i where i.health_system_id = health_systems.id and (i.needs_attention or i.last_error is not null))`,
    })
    .from(healthSystems)
    .orderBy(asc(sql`lower(${healthSystems.name})`));
}

export async function getHealthSystemOrThrow(actor: Actor, id: string) {
  assertCan(actor, 'health-systems:read');
  if (!isUuid(id)) throw new AppError('NOT_FOUND', 'That health system does not exist.');
  const [row] = await getDb()
    .select({ id: healthSystems.id, name: healthSystems.name, notes: healthSystems.notes, contacts: healthSystems.contacts, tags: healthSystems.tags, createdAt: healthSystems.createdAt })
    .from(healthSystems)
    .where(eq(healthSystems.id, id))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That health system does not exist.');
  const issuerRows = await getDb()
    .select({
      id: issuers.id,
      environment: issuers.environment,
      inputUrl: issuers.inputUrl,
      issuerUrl: issuers.issuerUrl,
      fhirBaseUrl: issuers.fhirBaseUrl,
      warnings: issuers.warnings,
      lastDiscoveredAt: issuers.lastDiscoveredAt,
      lastError: issuers.lastError,
      needsAttention: issuers.needsAttention,
      hasRegistration: sql<boolean>`${issuers.endpoints} ? 'registration'`,
    })
    .from(issuers)
    .where(eq(issuers.healthSystemId, id))
    .orderBy(asc(issuers.environment), asc(issuers.inputUrl));
  return { ...row, issuers: issuerRows };
}
