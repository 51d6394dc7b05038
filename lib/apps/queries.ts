import 'server-only';
import { and, asc, count, desc, eq, inArray } from 'drizzle-orm';
import { getDb, type DbOrTx } from '@/db/client';
import { appKeys, appVersions, apps } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { isUuid } from '@/lib/ids';

export async function listApps(actor: Actor) {
  assertCan(actor, 'registrations:read');
  return getDb()
    .select({ id: apps.id, name: apps.name, softwareId: apps.softwareId, currentVersion: apps.currentVersion, profile: appVersions.profile, updatedAt: apps.updatedAt })
    .from(apps)
    .innerJoin(appVersions, and(eq(appVersions.appId, apps.id), eq(appVersions.version, apps.currentVersion)))
    .orderBy(asc(apps.name));
}

/** The app with its current profile. */
export async function getAppOrThrow(actor: Actor, appId: string, db: DbOrTx = getDb()) {
  assertCan(actor, 'registrations:read');
  if (!isUuid(appId)) throw new AppError('NOT_FOUND', 'That app does not exist.');
  const [row] = await db
    .select({ id: apps.id, name: apps.name, softwareId: apps.softwareId, currentVersion: apps.currentVersion, profile: appVersions.profile })
    .from(apps)
    .innerJoin(appVersions, and(eq(appVersions.appId, apps.id), eq(appVersions.version, apps.currentVersion)))
    .where(eq(apps.id, appId))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'That app does not exist.');
  return row;
}

export async function listAppVersions(actor: Actor, appId: string) {
  assertCan(actor, 'registrations:read');
  return getDb()
    .select({ version: appVersions.version, createdBy: appVersions.createdBy, createdAt: appVersions.createdAt })
    .from(appVersions)
    .where(eq(appVersions.appId, appId))
    .orderBy(desc(appVersions.version));
}

/** The keys Registrar publishes: for client authentication (jwks_uri) and for software statements. */
export type PublishedKeyPurpose = 'client_auth' | 'software_statement';

/**
 * Public keys to publish for an app, environment and purpose (active and next; never retired,
 * never private). Each purpose has its own set: a hospital that trusts the statement key must not
 * thereby accept it for client authentication, nor the other way round.
 */
export async function publishedJwks(appId: string, environment: string, purpose: PublishedKeyPurpose = 'client_auth') {
  const rows = await getDb()
    .select({ publicJwk: appKeys.publicJwk })
    .from(appKeys)
    .where(and(eq(appKeys.appId, appId), eq(appKeys.environment, environment), eq(appKeys.purpose, purpose), inArray(appKeys.state, ['active', 'next'])))
    .orderBy(asc(appKeys.createdAt));
  return { keys: rows.map((r) => r.publicJwk) };
}

/** How many keys each environment publishes, by purpose, for the app page (no key material). */
export async function publishedKeyCounts(actor: Actor, appId: string): Promise<Array<{ environment: string; purpose: PublishedKeyPurpose; count: number }>> {
  assertCan(actor, 'registrations:read');
  if (!isUuid(appId)) return [];
  const rows = await getDb()
    .select({ environment: appKeys.environment, purpose: appKeys.purpose, count: count() })
    .from(appKeys)
    .where(and(eq(appKeys.appId, appId), inArray(appKeys.purpose, ['client_auth', 'software_statement']), inArray(appKeys.state, ['active', 'next'])))
    .groupBy(appKeys.environment, appKeys.purpose);
  return rows as Array<{ environment: string; purpose: PublishedKeyPurpose; count: number }>;
}
