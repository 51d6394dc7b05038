import 'server-only';
import { eq, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { healthSystems, issuers, registrations } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';

/**
 * What a diagnosis needs from a registration and its issuer. Only named fields of the registered
 * metadata are read (never the whole document, never the credentials table), so a secret cannot
 * reach a diagnosis even if one were stored where it should not be.
 */
export type RegistrationForDiagnosis = {
  id: string;
  clientId: string;
  environment: string;
  status: string;
  updatedAt: Date;
  redirectUris: unknown;
  scope: unknown;
  responseTypes: unknown;
  issuerId: string;
  issuerUrl: string | null;
  inputUrl: string;
  fhirBaseUrl: string | null;
  authorizationEndpoint: string | null;
  scopesSupported: string[];
  /** SMART capabilities from discovery (permission-v1 / permission-v2 decide the scope syntax). */
  capabilities: string[];
  healthSystemName: string;
};

const columns = {
  id: registrations.id,
  clientId: registrations.clientId,
  environment: registrations.environment,
  status: registrations.status,
  updatedAt: registrations.updatedAt,
  redirectUris: sql<unknown>`${registrations.registeredMetadata} -> 'redirect_uris'`,
  scope: sql<unknown>`${registrations.registeredMetadata} -> 'scope'`,
  responseTypes: sql<unknown>`${registrations.registeredMetadata} -> 'response_types'`,
  issuerId: issuers.id,
  issuerUrl: issuers.issuerUrl,
  inputUrl: issuers.inputUrl,
  fhirBaseUrl: issuers.fhirBaseUrl,
  authorizationEndpoint: sql<string | null>`${issuers.endpoints} -> 'authorization' ->> 'value'`,
  scopesSupported: issuers.scopesSupported,
  capabilities: issuers.capabilities,
  healthSystemName: healthSystems.name,
};

/** Every registration with exactly this client id, at any issuer (client ids are case-sensitive). */
export async function findRegistrationsByClientId(actor: Actor, clientId: string): Promise<RegistrationForDiagnosis[]> {
  assertCan(actor, 'diagnostics:run');
  return getDb()
    .select(columns)
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .where(eq(registrations.clientId, clientId))
    .orderBy(registrations.createdAt);
}

/** Client ids that differ from the given one only in letter case or surrounding whitespace. */
export async function findNearClientIds(actor: Actor, clientId: string, limit = 5): Promise<string[]> {
  assertCan(actor, 'diagnostics:run');
  const rows = await getDb()
    .selectDistinct({ clientId: registrations.clientId })
    .from(registrations)
    .where(sql`lower(btrim(${registrations.clientId})) = lower(btrim(${clientId})) and ${registrations.clientId} <> ${clientId}`)
    .limit(limit);
  return rows.map((r) => r.clientId);
}
