import 'server-only';
import { and, eq } from 'drizzle-orm';
import { isUniqueViolation } from '@/db/errors';
import { appVersions, apps } from '@/db/schema';
import { actorLabel, assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { appProfileSchema, updateAppSchema, type AppProfileInput } from './schemas';

const duplicate = (error: unknown) => {
  if (isUniqueViolation(error)) throw new AppError('CONFLICT', 'Another app already uses this name or software_id.', { field: 'softwareId' });
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
