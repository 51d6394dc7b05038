import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, registrations } from '@/db/schema';
import { readCurrentCredential } from '@/lib/credentials/store';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { readClientRegistration } from '@/lib/oauth/registration';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { addSandboxIssuer } from '@/test/support/issuers';
import { call, expectContract, expectProblem, makeToken } from './testing/client';

/**
 * POST /registrations/{id}/sync with `overrides`: the RFC 7592 update is built from the app profile
 * with the overrides given, and the registration keeps them once the hospital accepted it. Against
 * the sandbox hospitals; what the hospital holds is read back with an RFC 7592 GET.
 */

let sandbox: Sandbox;
type Tok = Awaited<ReturnType<typeof makeToken>>;
let ops: Tok, manager: Tok, support: Tok;
let generalIssuerId: string;
let epicIssuerId: string;

const profile = (suffix: string) => ({
  name: `Overrides App ${suffix}`,
  softwareId: `com.example.overrides.${suffix}`,
  environments: {
    production: {
      redirectUris: ['https://app.example.com/callback'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      scope: 'openid fhirUser launch/patient patient/Observation.rs',
    },
    'non-production': { redirectUris: ['https://app.example.com/epic/callback'], tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'RS384', epicClientId: 'epic-app-nonprod' },
  },
});

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {}, generalSecretTtlSeconds: 90 * 86_400 });
  const admin = await insertUser({ role: 'admin' });
  for (const origin of [sandbox.general.origin, sandbox.epic.origin]) await addAllowlistEntry(admin.actor, { entry: `http://${new URL(origin).host}` }).catch(() => {});
  const hs = await createHealthSystem(admin.actor, { name: `Overrides HS ${uniqueSuffix()}` });
  generalIssuerId = (await addSandboxIssuer(admin.actor, { healthSystemId: hs.id, url: sandbox.general.fhirBase, environment: 'sandbox' })).id;
  epicIssuerId = (await addSandboxIssuer(admin.actor, { healthSystemId: hs.id, url: sandbox.epic.fhirBase, environment: 'non-production', epicClientId: 'epic-app-nonprod' })).id;
  [ops, manager, support] = await Promise.all([makeToken('ops'), makeToken('manager'), makeToken('support')]);
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
});

/** A new app registered at General Hospital through the API, with `overrides` when given. */
async function registerAtGeneral(overrides?: Record<string, unknown>) {
  const app = expectContract('createApp', await call('POST', '/apps', { token: ops.token, body: profile(uniqueSuffix()) }), 201);
  const body = { issuerId: generalIssuerId, appId: app.id, environment: 'production', ...(overrides ? { overrides } : {}) };
  const reg = expectContract('registerApp', await call('POST', '/registrations', { token: ops.token, body, headers: { 'Idempotency-Key': randomUUID() } }), 201);
  return { id: String(reg.id), appId: String(app.id) };
}

/** What the hospital holds now (RFC 7592 read with the registration access token the vault holds). */
async function hospitalRecord(registrationId: string) {
  const [row] = await getDb().select({ uri: registrations.registrationClientUri }).from(registrations).where(eq(registrations.id, registrationId));
  const rat = await readCurrentCredential(getDb(), 'registration', registrationId, 'registration_access_token');
  return (await readClientRegistration({ registrationClientUri: row!.uri!, registrationAccessToken: rat!.plaintext, fetchInit: { policy: await currentOutboundPolicy() } })).metadata;
}

async function storedOverrides(registrationId: string) {
  const [row] = await getDb().select({ o: registrations.registrationOverrides }).from(registrations).where(eq(registrations.id, registrationId));
  return row!.o;
}

const overridesAudits = (registrationId: string) =>
  getDb()
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.targetId, registrationId), eq(auditLog.action, 'registration.overrides')));

const sync = (id: string, body?: unknown, token = ops.token) => call('POST', `/registrations/${id}/sync`, { token, ...(body === undefined ? {} : { body }) });

describe('a registration’s overrides in its API representation', () => {
  it('GET /registrations/{id} shows the overrides it was registered with, and null without any', async () => {
    const plain = await registerAtGeneral();
    expect(expectContract('getRegistration', await call('GET', `/registrations/${plain.id}`, { token: support.token }), 200).overrides).toBeNull();
    const narrowed = await registerAtGeneral({ scope: 'openid launch/patient', redirectUris: 'https://override.example.com/cb' });
    expect(expectContract('getRegistration', await call('GET', `/registrations/${narrowed.id}`, { token: support.token }), 200).overrides).toEqual({ scope: 'openid launch/patient', redirectUris: ['https://override.example.com/cb'] });
  });
});

describe('POST /registrations/{id}/sync with overrides', () => {
  it('the preview (confirm=false) shows the change and its effect on the metadata, and sends and stores nothing', async () => {
    const reg = await registerAtGeneral({ scope: 'openid launch/patient' });
    const preview = expectContract('syncRegistration', await sync(reg.id, { overrides: { scope: 'openid fhirUser launch/patient', redirectUris: ['https://app.example.com/v2/callback'] } }), 200);
    expect(preview).toMatchObject({
      applied: false,
      changedFields: ['redirect_uris', 'scope'],
      overrides: { stored: { scope: 'openid launch/patient' }, requested: { scope: 'openid fhirUser launch/patient', redirectUris: ['https://app.example.com/v2/callback'] }, changed: true },
    });
    expect((preview.diff as Array<{ field: string; server: string; profile: string }>).find((d) => d.field === 'scope')).toMatchObject({ server: '"openid launch/patient"', profile: '"openid fhirUser launch/patient"' });
    expect((await hospitalRecord(reg.id)).scope).toBe('openid launch/patient');
    expect(await storedOverrides(reg.id)).toEqual({ scope: 'openid launch/patient' });
    expect(await overridesAudits(reg.id)).toEqual([]);
  });

  it('confirmed: the hospital holds the metadata built with the new overrides, the registration keeps them, and the change is audited', async () => {
    const reg = await registerAtGeneral({ scope: 'openid launch/patient' });
    const wanted = { scope: 'openid fhirUser launch/patient', redirectUris: ['https://app.example.com/v2/callback'] };
    const applied = expectContract('syncRegistration', await sync(reg.id, { confirm: true, overrides: wanted }), 200);
    expect(applied).toMatchObject({ applied: true, changedFields: ['redirect_uris', 'scope'], overrides: { changed: true }, update: { changedFields: ['redirect_uris', 'scope'] } });

    const hospital = await hospitalRecord(reg.id);
    expect(hospital.scope).toBe('openid fhirUser launch/patient');
    expect(hospital.redirect_uris).toEqual(['https://app.example.com/v2/callback']);
    expect(await storedOverrides(reg.id)).toEqual(wanted);
    expect(expectContract('getRegistration', await call('GET', `/registrations/${reg.id}`, { token: ops.token }), 200).overrides).toEqual(wanted);
    const audits = await overridesAudits(reg.id);
    expect(audits.map((a) => [a.outcome, a.actorId, a.details])).toEqual([['success', ops.id, expect.objectContaining({ from: { scope: 'openid launch/patient' }, to: wanted })]]);

    // Afterwards a sync without overrides builds with the stored (new) ones: nothing differs.
    const again = expectContract('syncRegistration', await sync(reg.id), 200);
    expect(again).toMatchObject({ changedFields: [], overrides: { stored: wanted, requested: null, changed: false } });
  });

  it('`{}` drops the overrides: the hospital goes back to the profile’s metadata and the registration holds none', async () => {
    const reg = await registerAtGeneral({ scope: 'openid launch/patient' });
    const applied = expectContract('syncRegistration', await sync(reg.id, { confirm: true, overrides: {} }), 200);
    expect(applied).toMatchObject({ applied: true, changedFields: ['scope'], overrides: { changed: true } });
    expect((await hospitalRecord(reg.id)).scope).toBe('openid fhirUser launch/patient patient/Observation.rs');
    expect(await storedOverrides(reg.id)).toBeNull();
  });

  it('overrides the hospital already matches are stored without an update, in the sync’s own transaction', async () => {
    const reg = await registerAtGeneral();
    // The profile's own scope, as an override: nothing to send, but the registration keeps it.
    const same = { scope: 'openid fhirUser launch/patient patient/Observation.rs' };
    const applied = expectContract('syncRegistration', await sync(reg.id, { confirm: true, overrides: same }), 200);
    expect(applied).toMatchObject({ applied: true, changedFields: [], update: null, overrides: { changed: true } });
    expect(await storedOverrides(reg.id)).toEqual(same);
    expect(await overridesAudits(reg.id)).toHaveLength(1);
  });

  it('without overrides, a sync is as before: built with the stored overrides, which stay', async () => {
    const reg = await registerAtGeneral({ scope: 'openid launch/patient' });
    const applied = expectContract('syncRegistration', await sync(reg.id, { confirm: true }), 200);
    expect(applied).toMatchObject({ applied: true, changedFields: [], overrides: { stored: { scope: 'openid launch/patient' }, requested: null, changed: false } });
    expect((await hospitalRecord(reg.id)).scope).toBe('openid launch/patient');
    expect(await storedOverrides(reg.id)).toEqual({ scope: 'openid launch/patient' });
    expect(await overridesAudits(reg.id)).toEqual([]);
  });

  it('an update the hospital is never sent (a redirect URI with a fragment) stores no overrides', async () => {
    const reg = await registerAtGeneral({ scope: 'openid launch/patient' });
    expectProblem(await sync(reg.id, { confirm: true, overrides: { redirectUris: ['https://app.example.com/cb#frag'] } }), 422, 'INVALID');
    expect(await storedOverrides(reg.id)).toEqual({ scope: 'openid launch/patient' });
    expect((await hospitalRecord(reg.id)).redirect_uris).toEqual(['https://app.example.com/callback']);
    expect(await overridesAudits(reg.id)).toEqual([]);
  });

  it('bad overrides are 400 naming the field: an unknown key, a wrong type, an unknown method; an unknown body field is still refused', async () => {
    const reg = await registerAtGeneral();
    const unknownKey = expectProblem(await sync(reg.id, { confirm: true, overrides: { redirect_uris: ['https://app.example.com/cb'] } }), 400, 'INVALID');
    expect(unknownKey.detail).toMatch(/overrides: .*redirect_uris/);
    const wrongType = expectProblem(await sync(reg.id, { confirm: true, overrides: { scope: 42 } }), 400, 'INVALID');
    expect((wrongType.errors as Array<{ path: string }>).map((e) => e.path)).toEqual(['overrides.scope']);
    const method = expectProblem(await sync(reg.id, { confirm: true, overrides: { tokenEndpointAuthMethod: 'magic' } }), 400, 'INVALID');
    expect((method.errors as Array<{ path: string }>).map((e) => e.path)).toEqual(['overrides.tokenEndpointAuthMethod']);
    const notObject = expectProblem(await sync(reg.id, { confirm: true, overrides: ['scope'] }), 400, 'INVALID');
    expect((notObject.errors as Array<{ path: string }>).map((e) => e.path)).toEqual(['overrides']);
    const unknownField = expectProblem(await sync(reg.id, { confirm: true, overrides: {}, override: {} }), 400, 'INVALID');
    expect(unknownField.detail).toMatch(/override\b/);
    expect(await storedOverrides(reg.id)).toBeNull();
    expect(await overridesAudits(reg.id)).toEqual([]);
  });

  it('support and manager are refused (403, audited) and nothing changes at the hospital or in Registrar', async () => {
    const reg = await registerAtGeneral({ scope: 'openid launch/patient' });
    for (const t of [support, manager]) {
      expectProblem(await sync(reg.id, { confirm: true, overrides: { scope: 'openid' } }, t.token), 403, 'FORBIDDEN');
      const denied = await getDb()
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.actorId, t.id), eq(auditLog.action, 'api.syncRegistration'), eq(auditLog.outcome, 'denied')));
      expect(denied.length).toBeGreaterThan(0);
    }
    expect(await storedOverrides(reg.id)).toEqual({ scope: 'openid launch/patient' });
    expect((await hospitalRecord(reg.id)).scope).toBe('openid launch/patient');
    expect(await overridesAudits(reg.id)).toEqual([]);
    // Refused for the role, not the body: ops sending the same is applied.
    expect(expectContract('syncRegistration', await sync(reg.id, { confirm: true, overrides: { scope: 'openid' } }), 200)).toMatchObject({ applied: true, overrides: { changed: true } });
    expect(await storedOverrides(reg.id)).toEqual({ scope: 'openid' });
  });

  it('a registration without RFC 7592 management (Epic) cannot be synced: 422, and its overrides stay', async () => {
    const app = expectContract('createApp', await call('POST', '/apps', { token: ops.token, body: profile(uniqueSuffix()) }), 201);
    const body = { issuerId: epicIssuerId, appId: app.id, environment: 'non-production', initialAccessToken: await sandbox.mintInitialAccessToken('epic') };
    const reg = expectContract('registerApp', await call('POST', '/registrations', { token: ops.token, body, headers: { 'Idempotency-Key': randomUUID() } }), 201);
    expect(reg.managed).toBe(false);
    const refused = expectProblem(await sync(String(reg.id), { confirm: true, overrides: { keyAlgorithm: 'ES384' } }), 422, 'INVALID');
    expect(refused.detail).toContain('cannot be managed from Registrar');
    expect(await storedOverrides(String(reg.id))).toBeNull();
  });
});
