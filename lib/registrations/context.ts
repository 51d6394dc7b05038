import 'server-only';
import { and, eq, sql } from 'drizzle-orm';
import { getDb, type Db } from '@/db/client';
import { appVersions, apps, issuers, type AppProfile, type Issuer } from '@/db/schema';
import { AppError } from '@/lib/errors';
import { preparedStatement } from './prepared';

/**
 * What a registration request is built from: the issuer as discovered and the app's current
 * profile, each with a version. The app's is its row version (PostgreSQL's `xmin`, which every
 * UPDATE of the row changes, whoever writes it; only a person's save writes it). The issuer's is
 * `metadata_version`, which a trigger raises only when a column a request depends on changes: a
 * refresh rewrites the row every time (its timestamps), from another tab, refresh all or the
 * schedule, and one that found the same metadata must not void a review. The claim re-checks
 * both versions in the statement that writes the intent row (see claim.ts), so the request
 * recorded before the POST was built from exactly the issuer and profile in force when it
 * committed: metadata rediscovered differently or a profile edited in between makes the claim fail
 * and the request is rebuilt.
 */
export type RegistrationContext = {
  issuer: Issuer;
  app: { id: string; name: string; softwareId: string; currentVersion: number; profile: AppProfile };
  versions: { issuer: string; app: string };
};

/**
 * Contexts recently used, so a registration usually reads nothing before its claim. A stale entry
 * costs one failed claim and a reload, never a request built from outdated data (the claim checks).
 */
const recent = new Map<string, RegistrationContext>();
const RECENT_LIMIT = 256;

export async function registrationContext(issuerId: string, appId: string, options: { fresh?: boolean } = {}): Promise<RegistrationContext> {
  const key = `${issuerId}:${appId}`;
  const cached = options.fresh ? undefined : recent.get(key);
  if (cached) return cached;
  // Frozen: one object serves many registrations, so a caller that changed it in place (sorting
  // the profile's redirect URIs, say) would change the next request too; this makes that an error.
  const context = deepFreeze(await loadRegistrationContext(issuerId, appId));
  recent.delete(key);
  recent.set(key, context);
  if (recent.size > RECENT_LIMIT) recent.delete(recent.keys().next().value!);
  return context;
}

/** Drops a context whose claim found it outdated. */
export function forgetRegistrationContext(issuerId: string, appId: string): void {
  recent.delete(`${issuerId}:${appId}`);
}

/** The issuer, the app with its current profile and both row versions, in one query. */
async function loadRegistrationContext(issuerId: string, appId: string): Promise<RegistrationContext> {
  const [row] = await contextStatement(getDb()).execute({ issuerId, appId });
  if (!row) throw new AppError('NOT_FOUND', 'That issuer does not exist.', { field: 'issuerId' });
  if (!row.app || row.profile === null || row.appVersion === null) throw new AppError('NOT_FOUND', 'That app does not exist.', { field: 'appId' });
  return {
    issuer: row.issuer,
    app: { ...row.app, profile: row.profile },
    versions: { issuer: row.issuerVersion, app: row.appVersion },
  };
}

function contextStatement(db: Db) {
  return preparedStatement(db, 'registration-context', () =>
    db
      .select({
        issuer: issuers,
        issuerVersion: sql<string>`${issuers.metadataVersion}::text`,
        app: { id: apps.id, name: apps.name, softwareId: apps.softwareId, currentVersion: apps.currentVersion },
        appVersion: sql<string | null>`${apps}.xmin::text`,
        profile: appVersions.profile,
      })
      .from(issuers)
      .leftJoin(apps, eq(apps.id, sql.placeholder('appId')))
      .leftJoin(appVersions, and(eq(appVersions.appId, apps.id), eq(appVersions.version, apps.currentVersion)))
      .where(eq(issuers.id, sql.placeholder('issuerId')))
      .limit(1),
  );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
