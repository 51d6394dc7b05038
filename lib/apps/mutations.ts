import 'server-only';
import { and, count, eq, inArray, isNull, ne } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { violatedConstraint } from '@/db/errors';
import { appVersions, apps, registrations } from '@/db/schema';
import { actorLabel, assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { appProfileSchema, updateAppSchema, type AppProfileInput } from './schemas';

/** A name or software_id another app has: refused at the field that collides. */
const duplicate = (error: unknown) => {
  const constraint = violatedConstraint(error);
  if (constraint === 'apps_name_key') throw new AppError('CONFLICT', 'Another app already has this name (names are compared without case).', { field: 'name' });
  if (constraint === 'apps_software_id_key') throw new AppError('CONFLICT', 'Another app already uses this software_id.', { field: 'softwareId' });
  throw error;
};

export async function createApp(actor: Actor, input: AppProfileInput) {
  assertCan(actor, 'registrations:write');
  const profile = appProfileSchema.parse(input);
  return auditedMutation(actor, { action: 'app.create', targetType: 'app', details: { name: profile.name, softwareId: profile.softwareId } }, async (tx) => {
    const [app] = await tx.insert(apps).values({ name: profile.name, softwareId: profile.softwareId, currentVersion: 1 }).returning({ id: apps.id }).catch(duplicate);
    if (!app) throw new AppError('CONFLICT', 'The app could not be created.');
    await tx.insert(appVersions).values({ appId: app.id, version: 1, profile, createdBy: actorLabel(actor) });
    return { result: { id: app.id, version: 1 }, targetId: app.id };
  });
}

/**
 * Saves a new version of an app profile. `expectedVersion` makes concurrent edits explicit: the
 * second save of the same version is refused rather than silently overwriting the first.
 */
export async function updateApp(actor: Actor, input: { appId: string; expectedVersion: number; profile: AppProfileInput }) {
  assertCan(actor, 'registrations:write');
  const { appId, expectedVersion, profile } = updateAppSchema.parse(input);
  return auditedMutation(actor, { action: 'app.update', targetType: 'app', targetId: appId, details: { name: profile.name } }, async (tx) => {
    const [current] = await tx.select({ currentVersion: apps.currentVersion }).from(apps).where(eq(apps.id, appId)).for('update');
    if (!current) throw new AppError('NOT_FOUND', 'That app does not exist.');
    if (current.currentVersion !== expectedVersion) {
      throw new AppError('CONFLICT', `Someone saved version ${current.currentVersion} of this app meanwhile. Reload to see it, then make your change again.`);
    }
    await refuseRemovingUsedEnvironments(tx, appId, expectedVersion, Object.keys(profile.environments));
    const version = expectedVersion + 1;
    await tx
      .update(apps)
      .set({ name: profile.name, softwareId: profile.softwareId, currentVersion: version, updatedAt: new Date() })
      .where(and(eq(apps.id, appId), eq(apps.currentVersion, expectedVersion)))
      .catch(duplicate);
    await tx.insert(appVersions).values({ appId, version, profile, createdBy: actorLabel(actor) });
    return { result: { id: appId, version }, details: { version } };
  });
}

/**
 * An environment that registrations still use stays in the profile: without it, syncing them to
 * the profile and rotating them by re-registration (both build from the profile's environment)
 * would fail. Delete those registrations first, or keep the environment.
 */
async function refuseRemovingUsedEnvironments(tx: Tx, appId: string, version: number, kept: readonly string[]): Promise<void> {
  const [previous] = await tx.select({ profile: appVersions.profile }).from(appVersions).where(and(eq(appVersions.appId, appId), eq(appVersions.version, version)));
  const removed = Object.keys(previous?.profile.environments ?? {}).filter((name) => !kept.includes(name));
  if (removed.length === 0) return;
  const used = await tx
    .select({ environment: registrations.environment, n: count() })
    .from(registrations)
    .where(and(eq(registrations.appId, appId), inArray(registrations.environment, removed), ne(registrations.status, 'deleted'), isNull(registrations.replacedByRegistrationId)))
    .groupBy(registrations.environment);
  if (used.length === 0) return;
  const list = used.map((u) => `"${u.environment}" (${u.n} registration${u.n === 1 ? '' : 's'})`).join(', ');
  throw new AppError('INVALID', `The environment${used.length === 1 ? '' : 's'} ${list} cannot be removed while registrations use ${used.length === 1 ? 'it' : 'them'}: syncing and rotating them build from it. Delete those registrations first, or keep the environment.`, { field: 'environments' });
}
