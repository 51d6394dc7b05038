import 'server-only';
import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import { getDb } from '@/db/client';
import { issuers, registrations } from '@/db/schema';
import { getAppOrThrow } from '@/lib/apps/queries';
import { recordAudit } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { buildRegistrationRequest, type RegistrationOverrides } from '../build-request';
import { registrationOverridesSchema } from '../schemas';
import { compareMetadataRecords } from './drift';
import { withRegistrationLock } from './lock';
import { syncRegistrationSchema } from './schemas';
import { assertVaultOpen, hasFreshServerRecord, loadManageableRegistration, readServerRecord, type ManageDeps } from './shared';
import { updateRegistrationLocked, type UpdateResult } from './update';

/** One field the app profile defines, against the server's record (values as JSON text; null = absent). */
export type ProfileDiffRow = { field: string; server: string | null; profile: string | null; differs: boolean };

/** The overrides a sync compared with: those Registrar holds, and those the request gave in their place. */
export type SyncOverrides = {
  /** The registration's overrides before this sync (null: none). */
  stored: RegistrationOverrides | null;
  /** The overrides given with the request (null: none given, the stored ones were used; `{}`: none wanted). */
  requested: RegistrationOverrides | null;
  /** `requested` differs from `stored`: applied, the registration now holds `requested`. */
  changed: boolean;
};

export type SyncResult = {
  registrationId: string;
  /** The profile version compared (the app's current one), and the version the registration was made or last synced with. */
  appVersion: number;
  registrationAppVersion: number;
  diff: ProfileDiffRow[];
  changedFields: string[];
  applied: boolean;
  update: UpdateResult | null;
  overrides: SyncOverrides;
};

/**
 * The sync's input: the fields of syncRegistrationSchema, and optionally the overrides to build
 * with instead of the stored ones (the registration request's own schema for them).
 */
export const syncToProfileSchema = syncRegistrationSchema.extend({ overrides: registrationOverridesSchema.optional() });
export type SyncToProfileInput = z.input<typeof syncToProfileSchema>;

/** Overrides as stored: none is null, never `{}` (as registration stores them). */
function storedForm(overrides: RegistrationOverrides | null | undefined): RegistrationOverrides | null {
  return overrides && Object.keys(overrides).length > 0 ? overrides : null;
}

/** Key order carries no meaning in overrides; list order (redirect URIs, grant types) does, since it is sent. */
function sameOverrides(a: RegistrationOverrides | null, b: RegistrationOverrides | null): boolean {
  const canonical = (o: RegistrationOverrides | null) => JSON.stringify(o ? Object.fromEntries(Object.entries(o).sort(([x], [y]) => x.localeCompare(y))) : null);
  return canonical(a) === canonical(b);
}

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
 *
 * `overrides`, when given, replace the stored ones in that build; once the hospital has accepted
 * the update (or already matched), the registration keeps them (re-registration and later syncs
 * use them).
 */
export async function syncRegistrationToProfile(actor: Actor, input: SyncToProfileInput, deps: ManageDeps = {}): Promise<SyncResult> {
  // Even the preview may read the registration at the hospital (and store what it learns).
  assertCan(actor, 'registrations:write');
  const data = syncToProfileSchema.parse(input);
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
    const stored = storedForm(reg.registrationOverrides as RegistrationOverrides | null);
    const requested = data.overrides === undefined ? null : storedForm(data.overrides);
    const overridesChanged = data.overrides !== undefined && !sameOverrides(stored, requested);
    const overrides = (data.overrides === undefined ? stored : requested) ?? undefined;
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
    const result = {
      registrationId: reg.id,
      appVersion: app.currentVersion,
      registrationAppVersion: reg.appVersion,
      diff,
      changedFields,
      overrides: { stored, requested: data.overrides ?? null, changed: overridesChanged },
    };
    if (!data.confirm) return { ...result, applied: false, update: null };

    const overridesAudit = { action: 'registration.overrides', targetType: 'registration', targetId: reg.id, details: { clientId: reg.clientId, from: stored, to: requested, appVersion: app.currentVersion } };
    if (changedFields.length === 0) {
      // Already as the profile (and the overrides given) say: only the version it matches, and the overrides, are recorded.
      await getDb().transaction(async (tx) => {
        await tx
          .update(registrations)
          .set({ appVersion: app.currentVersion, ...(overridesChanged ? { registrationOverrides: requested } : {}) })
          .where(eq(registrations.id, reg.id));
        await recordAudit(tx, actor, {
          action: 'registration.sync',
          targetType: 'registration',
          targetId: reg.id,
          details: { clientId: reg.clientId, fields: [], appVersion: app.currentVersion, fromAppVersion: reg.appVersion },
        });
        if (overridesChanged) await recordAudit(tx, actor, overridesAudit);
      });
      return { ...result, applied: true, update: null };
    }
    // The overrides are stored with the hospital's answer, in its transaction: only once the
    // hospital holds what they built, and never the one without the other.
    const update = await updateRegistrationLocked(actor, reg.id, changes, deps, {
      appVersion: app.currentVersion,
      action: 'registration.sync',
      ...(overridesChanged ? { overrides: { value: requested, audit: overridesAudit } } : {}),
    });
    return { ...result, applied: true, update };
  });
}
