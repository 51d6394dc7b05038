import 'server-only';
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
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

/** Public keys to publish for an app and environment (active and next; never retired, never private). */
export async function publishedJwks(appId: string, environment: string) {
  const rows = await getDb()
    .select({ publicJwk: appKeys.publicJwk })
    .from(appKeys)
    .where(and(eq(appKeys.appId, appId), eq(appKeys.environment, environment), eq(appKeys.purpose, 'client_auth'), inArray(appKeys.state, ['active', 'next'])))
    .orderBy(asc(appKeys.createdAt));
  return { keys: rows.map((r) => r.publicJwk) };
}
