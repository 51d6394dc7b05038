import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertUser, uniqueSuffix } from '@/db/factories';
import { auditLog, credentials, registrations } from '@/db/schema';
import { updateApp } from '@/lib/apps/mutations';
import { readCredentialById, readCurrentCredential } from '@/lib/credentials/store';
import { AppError, isAppError } from '@/lib/errors';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { addSandboxIssuer } from '@/test/support/issuers';
import { readClientRegistration, type ClientMetadata } from '@/lib/oauth/registration';
import { addAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { registerApp } from '@/lib/registrations/register';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { deleteRegistration } from './delete';
import { refreshRegistrationFromServer } from './refresh';
import { syncRegistrationToProfile } from './sync';
import { updateRegistration } from './update';

/** RFC 7592 §2.2: never sent in an update. */
const FORBIDDEN_IN_PUT = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at', 'client_secret'];

let sandbox: Sandbox;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let generalIssuerId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ log: () => {} });
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await addAllowlistEntry(admin.actor, { entry: `http://${new URL(sandbox.general.origin).host}` }).catch(() => {});
  const system = await createHealthSystem(ops.actor, { name: `General ${uniqueSuffix()}` });
  generalIssuerId = (await addSandboxIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.general.fhirBase, environment: 'sandbox' })).id;
});

afterAll(async () => {
  await sandbox.stop();
  await closeDb();
});

/** Onboards a fresh app at General Hospital (open registration, RFC 7592, RAT rotated on every PUT). */
async function registerAtGeneral() {
  const { appId, profile } = await insertApp({ environments: { production: { redirectUris: ['https://app.example.com/callback'], scope: 'openid fhirUser launch/patient patient/*.read' } } });
  const result = await registerApp(ops.actor, { issuerId: generalIssuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
  return { ...result, appId, profile };
}

async function row(id: string) {
  const [r] = await getDb().select().from(registrations).where(eq(registrations.id, id));
  return r!;
}

async function currentRat(id: string) {
  return (await readCurrentCredential(getDb(), 'registration', id, 'registration_access_token'))!;
}

/** The hospital's record right now, read with the token the vault holds as current. */
async function serverRecord(id: string): Promise<ClientMetadata> {
  const reg = await row(id);
  const read = await readClientRegistration({
    registrationClientUri: reg.registrationClientUri!,
    registrationAccessToken: (await currentRat(id)).plaintext,
    fetchInit: { policy: await currentOutboundPolicy() },
  });
  return read.metadata;
}

async function captureError(fn: () => Promise<unknown>): Promise<AppError> {
  try {
    await fn();
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

describe('RFC 7592 management at General Hospital', () => {
  it('a refresh right after registration finds no drift and records the server record and the time of the check', async () => {
    const reg = await registerAtGeneral();
    const started = Date.now();
    const result = await refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId });
    expect(result.hasDrift).toBe(false);
    expect(result.drift.length).toBeGreaterThan(5);
    expect(result.drift.every((d) => !d.differs && d.registrar === d.server)).toBe(true);
    expect(result.rotated).toEqual([]);
    const after = await row(reg.registrationId);
    expect(after.serverMetadata).toEqual(after.registeredMetadata);
    expect(JSON.stringify(after.serverMetadata)).not.toMatch(/"client_secret"|"registration_access_token"/);
    expect(after.lastCheckedAt!.getTime()).toBeGreaterThanOrEqual(started - 5);
    const audit = await getDb().select().from(auditLog).where(eq(auditLog.targetId, reg.registrationId));
    expect(audit.filter((a) => a.action === 'registration.refresh').map((a) => a.outcome)).toEqual(['success']);
  });

  it('an update of the redirect URIs reaches the server, rotates the RAT (new current, old previous), and a second update works with the new RAT', async () => {
    const reg = await registerAtGeneral();
    const secretBefore = await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret');
    const ratBefore = await currentRat(reg.registrationId);
    const uris = ['https://app.example.com/callback', 'https://app.example.com/v2/callback'];

    const first = await updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { redirect_uris: uris } });
    expect(first.readFirst).toBe(true); // no server record yet: GET before PUT
    expect(first.rotated).toEqual(['registration_access_token']);

    // The vault: the new RAT is current, the old one previous; the secret did not change.
    const ratAfter = await currentRat(reg.registrationId);
    expect(ratAfter.plaintext).not.toBe(ratBefore.plaintext);
    expect(ratAfter.version).toBe(2);
    const oldRatRow = (await getDb().select({ state: credentials.state }).from(credentials).where(eq(credentials.id, ratBefore.id)))[0];
    expect(oldRatRow?.state).toBe('previous');
    expect((await readCredentialById(getDb(), ratBefore.id))?.plaintext).toBe(ratBefore.plaintext);
    expect(await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret')).toEqual(secretBefore);

    // The hospital's record, read fresh with the new token: the new URIs, and every other field as before.
    const stored = await row(reg.registrationId);
    const server = await serverRecord(reg.registrationId);
    expect(server.redirect_uris).toEqual(uris);
    expect(stored.registeredMetadata.redirect_uris).toEqual(uris);
    expect(stored.serverMetadata).toEqual(server);
    for (const [field, value] of Object.entries(stored.requestedMetadata)) {
      if (field === 'redirect_uris') continue;
      expect(server[field], field).toEqual(value);
    }
    expect(stored.requestedMetadata.redirect_uris).toEqual(uris);

    // The old token is dead at the hospital (rotation), so only the stored new one can work.
    const dead = await captureError(async () =>
      readClientRegistration({ registrationClientUri: stored.registrationClientUri!, registrationAccessToken: ratBefore.plaintext, fetchInit: { policy: await currentOutboundPolicy() } }),
    );
    expect(dead.details?.registrationError).toMatchObject({ kind: 'bearer', status: 401 });

    // Second update: straight PUT from the stored record, with the rotated token.
    const beforeSecond = await serverRecord(reg.registrationId);
    const second = await updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { client_name: 'Renamed at General' } });
    expect(second.readFirst).toBe(false);
    expect(second.rotated).toEqual(['registration_access_token']);
    expect((await currentRat(reg.registrationId)).version).toBe(3);
    const afterSecond = await serverRecord(reg.registrationId);
    // Nothing of the last response was dropped (a PUT replaces the whole registration).
    for (const [field, value] of Object.entries(beforeSecond)) {
      expect(afterSecond[field], field).toEqual(field === 'client_name' ? 'Renamed at General' : value);
    }
    // node-oidc-provider answers 400 to a PUT naming any of these, so both updates succeeding proves none was sent.
    expect(FORBIDDEN_IN_PUT).toHaveLength(5);
    const rats = await getDb().select({ version: credentials.version, state: credentials.state }).from(credentials).where(eq(credentials.ownerId, reg.registrationId));
    expect(rats.filter((r) => r.state === 'current')).toHaveLength(3); // one current each: client_secret, RAT, response_body
    expect((await row(reg.registrationId)).status).toBe('active');
  });

  it('an update refused by the hospital (400) changes nothing in Registrar and keeps management', async () => {
    const reg = await registerAtGeneral();
    await refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId });
    const before = await row(reg.registrationId);
    const ratBefore = await currentRat(reg.registrationId);
    // General refuses a scope it does not know.
    const error = await captureError(() => updateRegistration(ops.actor, { registrationId: reg.registrationId, changes: { scope: 'openid made-up/Scope.xyz' } }));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.details?.registrationError).toMatchObject({ kind: 'rfc7591', status: 400 });
    const after = await row(reg.registrationId);
    expect(after.registeredMetadata).toEqual(before.registeredMetadata);
    expect(after.status).toBe('active');
    expect((await currentRat(reg.registrationId)).id).toBe(ratBefore.id);
  });

  it('sync to the app profile shows the diff first, then applies it and records the new app version', async () => {
    const reg = await registerAtGeneral();
    const { profile } = reg;
    const production = profile.environments.production!;
    const saved = await updateApp(ops.actor, {
      appId: reg.appId,
      expectedVersion: 1,
      profile: {
        ...profile,
        environments: { production: { ...production, redirectUris: ['https://app.example.com/callback', 'https://app.example.com/synced'], scope: `${production.scope} offline_access` } },
      },
    });
    expect(saved.version).toBe(2);

    const preview = await syncRegistrationToProfile(ops.actor, { registrationId: reg.registrationId });
    expect(preview.applied).toBe(false);
    expect(preview).toMatchObject({ appVersion: 2, registrationAppVersion: 1 });
    expect(preview.changedFields).toEqual(['redirect_uris', 'scope']);
    expect(preview.diff.find((d) => d.field === 'redirect_uris')).toMatchObject({ differs: true, profile: JSON.stringify(['https://app.example.com/callback', 'https://app.example.com/synced']) });
    expect(preview.diff.find((d) => d.field === 'client_name')).toMatchObject({ differs: false });
    expect(preview.diff.some((d) => d.field === 'jwks' || d.field === 'jwks_uri')).toBe(false);
    // Nothing was sent: the hospital still has the old URIs.
    expect((await serverRecord(reg.registrationId)).redirect_uris).toEqual(['https://app.example.com/callback']);
    expect((await row(reg.registrationId)).appVersion).toBe(1);

    // A confirm against a version the person did not review is refused.
    const stale = await captureError(() => syncRegistrationToProfile(ops.actor, { registrationId: reg.registrationId, confirm: true, appVersion: 1 }));
    expect(stale.code).toBe('CONFLICT');

    const applied = await syncRegistrationToProfile(ops.actor, { registrationId: reg.registrationId, confirm: true, appVersion: 2 });
    expect(applied.applied).toBe(true);
    expect(applied.update?.changedFields).toEqual(['redirect_uris', 'scope']);
    const server = await serverRecord(reg.registrationId);
    expect(server.redirect_uris).toEqual(['https://app.example.com/callback', 'https://app.example.com/synced']);
    expect(String(server.scope).split(' ')).toContain('offline_access');
    expect((await row(reg.registrationId)).appVersion).toBe(2);

    const again = await syncRegistrationToProfile(ops.actor, { registrationId: reg.registrationId });
    expect(again.changedFields).toEqual([]);
  });

  it('sync keeps the changes the person made at registration: a narrowed scope and a replaced redirect URI are not drift, a profile change elsewhere is', async () => {
    const { appId, profile } = await insertApp({ environments: { production: { redirectUris: ['https://app.example.com/callback'], scope: 'openid fhirUser launch/patient patient/*.read' } } });
    const overrides = { scope: 'openid launch/patient', redirectUris: ['https://override.example.com/cb'] };
    const reg = await registerApp(ops.actor, { issuerId: generalIssuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID(), overrides });
    expect((await row(reg.registrationId)).registrationOverrides).toEqual(overrides);
    expect((await syncRegistrationToProfile(ops.actor, { registrationId: reg.registrationId })).changedFields).toEqual([]);

    const production = profile.environments.production!;
    await updateApp(ops.actor, { appId, expectedVersion: 1, profile: { ...profile, environments: { production: { ...production, grantTypes: ['authorization_code', 'refresh_token'] } } } });
    const preview = await syncRegistrationToProfile(ops.actor, { registrationId: reg.registrationId });
    expect(preview.changedFields).toEqual(['grant_types']);
    expect(preview.diff.find((d) => d.field === 'scope')).toMatchObject({ differs: false });
  });

  it('a delete answered 204 marks the registration deleted and keeps it with its credentials', async () => {
    const reg = await registerAtGeneral();
    const credentialsBefore = await getDb().select({ id: credentials.id, state: credentials.state }).from(credentials).where(eq(credentials.ownerId, reg.registrationId));
    const ratBefore = await currentRat(reg.registrationId);
    const result = await deleteRegistration(ops.actor, { registrationId: reg.registrationId });
    expect(result.registrationId).toBe(reg.registrationId);

    const after = await row(reg.registrationId);
    expect(after.status).toBe('deleted');
    expect(after.deletedAt).not.toBeNull();
    expect(after.clientId).toBe(reg.clientId);
    const credentialsAfter = await getDb().select({ id: credentials.id, state: credentials.state }).from(credentials).where(eq(credentials.ownerId, reg.registrationId));
    expect(credentialsAfter).toEqual(credentialsBefore);

    // Gone at the hospital: the token is refused there.
    const gone = await captureError(async () =>
      readClientRegistration({ registrationClientUri: after.registrationClientUri!, registrationAccessToken: ratBefore.plaintext, fetchInit: { policy: await currentOutboundPolicy() } }),
    );
    expect(gone.details?.registrationError).toMatchObject({ kind: 'bearer', status: 401 });
    // A deleted registration is history: no more management calls.
    const refused = await captureError(() => refreshRegistrationFromServer(ops.actor, { registrationId: reg.registrationId }));
    expect(refused.code).toBe('CONFLICT');
    const audit = await getDb().select().from(auditLog).where(eq(auditLog.targetId, reg.registrationId));
    expect(audit.filter((a) => a.action === 'registration.delete').map((a) => a.outcome)).toEqual(['success']);
  });
});
