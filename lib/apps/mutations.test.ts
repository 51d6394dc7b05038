import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import { apps, registrations } from '@/db/schema';
import { updateApp } from './mutations';

afterAll(async () => {
  await closeDb();
});

describe('saving a new version of an app profile', () => {
  it('refuses to remove an environment registrations still use, naming it and how many, at the environments; one without registrations goes', async () => {
    const ops = await insertUser({ role: 'ops' });
    const { appId, profile } = await insertApp({ environments: { production: {}, sandbox: {}, staging: {} } });
    const { issuerId } = await insertIssuer({ registrationEndpoint: 'https://as.example.com/register' });
    await getDb()
      .insert(registrations)
      .values({ issuerId, appId, appVersion: 1, environment: 'sandbox', clientId: `env-${appId}`, authMethod: 'none', requestedMetadata: {}, registeredMetadata: {}, secretExpiryKind: 'none' });
    const input = (environments: string[]) => ({
      ...profile,
      contacts: profile.contacts.join('\n'),
      environments: Object.fromEntries(environments.map((e) => [e, { ...profile.environments[e]!, redirectUris: profile.environments[e]!.redirectUris.join('\n') }])),
    });

    const refused = await updateApp(ops.actor, { appId, expectedVersion: 1, profile: input(['production']) }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'INVALID', details: { field: 'environments' }, message: expect.stringMatching(/"sandbox" \(1 registration\) cannot be removed/) });
    expect((await getDb().select({ v: apps.currentVersion }).from(apps).where(eq(apps.id, appId)))[0]!.v).toBe(1);

    expect(await updateApp(ops.actor, { appId, expectedVersion: 1, profile: input(['production', 'sandbox']) })).toMatchObject({ version: 2 });
  });
});

describe('an app name or software_id another app has', () => {
  it('is refused at the field that collides', async () => {
    const ops = await insertUser({ role: 'ops' });
    const first = await insertApp({ environments: { production: {} } });
    const second = await insertApp({ environments: { production: {} } });
    const input = (over: Record<string, unknown>) => ({ ...second.profile, contacts: second.profile.contacts.join('\n'), environments: { production: { ...second.profile.environments.production!, redirectUris: '' } }, ...over });
    await expect(updateApp(ops.actor, { appId: second.appId, expectedVersion: 1, profile: input({ name: first.profile.name.toUpperCase() }) })).rejects.toMatchObject({ code: 'CONFLICT', details: { field: 'name' } });
    await expect(updateApp(ops.actor, { appId: second.appId, expectedVersion: 1, profile: input({ softwareId: first.profile.softwareId }) })).rejects.toMatchObject({ code: 'CONFLICT', details: { field: 'softwareId' } });
  });
});
