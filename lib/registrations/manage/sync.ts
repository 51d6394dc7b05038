import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { issuers, registrations } from '@/db/schema';
import { getAppOrThrow } from '@/lib/apps/queries';
import { recordAudit } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { buildRegistrationRequest, type RegistrationOverrides } from '../build-request';
import { compareMetadataRecords } from './drift';
import { withRegistrationLock } from './lock';
import { syncRegistrationSchema, type SyncRegistrationInput } from './schemas';
import { assertVaultOpen, hasFreshServerRecord, loadManageableRegistration, readServerRecord, type ManageDeps } from './shared';
import { updateRegistrationLocked, type UpdateResult } from './update';

/** One field the app profile defines, against the server's record (values as JSON text; null = absent). */
export type ProfileDiffRow = { field: string; server: string | null; profile: string | null; differs: boolean };

export type SyncResult = {
  registrationId: string;
  /** The profile version compared (the app's current one), and the version the registration was made or last synced with. */
  appVersion: number;
  registrationAppVersion: number;
  diff: ProfileDiffRow[];
  changedFields: string[];
  applied: boolean;
  update: UpdateResult | null;
};

/**
 * Key material is not the profile's to sync: keys are rotated on their own schedule (publish the
 * new key beside the old), and the profile build has no key to put there.
 */
const NOT_SYNCED = new Set(['jwks', 'jwks_uri', 'software_statement']);

/**
 * Brings a registration in line with the current app profile for its environment: the metadata
 * the profile would register today (the same build as onboarding, adapted to the issuer, with the
 * changes the person made when registering this client) against
 * the server's record. Without `confirm`, only the diff; with it, the differing fields are sent
 * as an RFC 7592 update and the registration records the profile version. Fields the profile
 * does not define are left as the server has them.
 */
export async function syncRegistrationToProfile(actor: Actor, input: SyncRegistrationInput, deps: ManageDeps = {}): Promise<SyncResult> {
  // Even the preview may read the registration at the hospital (and store what it learns).
  assertCan(actor, 'registrations:write');
  const data = syncRegistrationSchema.parse(input);
  assertVaultOpen();
  return withRegistrationLock(data.registrationId, async () => {
    let reg = await loadManageableRegistration(data.registrationId);
    const app = await getAppOrThrow(actor, reg.appId);
    if (data.appVersion !== undefined && data.appVersion !== app.currentVersion) {
      throw new AppError('CONFLICT', `The app profile changed (now v${app.currentVersion}, you reviewed v${data.appVersion}). Review the new differences before applying.`);
    }
    if (!app.profile.environments[reg.environment]) {
      throw new AppError('INVALID', `The app profile (v${app.currentVersion}) has no "${reg.environment}" environment any more; there is nothing to sync to.`);
    }
    const [issuer] = await getDb().select().from(issuers).where(eq(issuers.id, reg.issuerId)).limit(1);
    if (!issuer) throw new AppError('NOT_FOUND', 'The issuer of this registration does not exist.');
    // The profile as this registration was made from it: the person's changes at registration stay
    // (a sync must not widen a scope they narrowed, nor swap back a redirect URI they replaced).
    const overrides = (reg.registrationOverrides as RegistrationOverrides | null) ?? undefined;
    const built = buildRegistrationRequest({ issuer, profile: app.profile, environment: reg.environment, overrides, jwksUri: null, inlineJwks: null });
    const profileMetadata = Object.fromEntries(Object.entries(built.metadata).filter(([field]) => !NOT_SYNCED.has(field)));

    let server: Record<string, unknown>;
    if (hasFreshServerRecord(reg)) {
      server = reg.serverMetadata;
    } else {
      ({ reg, serverMetadata: server } = await readServerRecord(actor, reg, deps, 'sync'));
    }
    const diff = compareMetadataRecords(server, profileMetadata, Object.keys(profileMetadata)).map((d) => ({ field: d.field, server: d.left, profile: d.right, differs: d.differs }));
    const changes = Object.fromEntries(diff.filter((d) => d.differs).map((d) => [d.field, profileMetadata[d.field]]));
    const changedFields = Object.keys(changes).sort();
    const result = { registrationId: reg.id, appVersion: app.currentVersion, registrationAppVersion: reg.appVersion, diff, changedFields };
    if (!data.confirm) return { ...result, applied: false, update: null };

    if (changedFields.length === 0) {
      // Already as the profile says: only the version it matches is recorded.
      await getDb().transaction(async (tx) => {
        await tx.update(registrations).set({ appVersion: app.currentVersion }).where(eq(registrations.id, reg.id));
        await recordAudit(tx, actor, {
          action: 'registration.sync',
          targetType: 'registration',
          targetId: reg.id,
          details: { clientId: reg.clientId, fields: [], appVersion: app.currentVersion, fromAppVersion: reg.appVersion },
        });
      });
      return { ...result, applied: true, update: null };
    }
    const update = await updateRegistrationLocked(actor, reg.id, changes, deps, { appVersion: app.currentVersion, action: 'registration.sync' });
    return { ...result, applied: true, update };
  });
}
