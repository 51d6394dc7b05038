import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertUser } from '@/db/factories';
import { appKeys, registrations, rotations } from '@/db/schema';
import { readAppPrivateKey } from '@/lib/apps/keys';
import { publishedJwks } from '@/lib/apps/queries';
import { signClientAssertion } from '@/lib/oauth/registration';
import { startSandbox, type Sandbox } from '@/sandbox/index';
import { runRotationCleanup } from './cleanup';
import { planRotation } from './plan';
import { reconcileRenewals } from './renewals';
import { dueForRenewal } from './scan';
import { setRotationOverrides } from './settings';
import { resolveActiveRegistration } from './queries';
import { confirmRotationVerified, resumeRotation, startRotation, supplyInitialAccessToken, type RotationStep } from './run';
import { allowlist, captureError, register, registrationRow, replacementsOf, rotationOperations, rotationRows, sandboxIssuer, SimulatedCrash, startJwksServer, tokenWithCurrentCredential } from './test-support';

let sandbox: Sandbox;
let jwks: Awaited<ReturnType<typeof startJwksServer>>;
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let mercyIssuerId: string;
let mercyToken: string;
let epicIssuerId: string;

beforeAll(async () => {
  jwks = await startJwksServer();
  sandbox = await startSandbox({ log: () => {} });
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  for (const origin of [sandbox.mercy.origin, sandbox.epic.origin]) await allowlist(admin.actor, origin);
  const mercy = await sandboxIssuer(ops.actor, sandbox.mercy.fhirBase);
  mercyIssuerId = mercy.id;
  mercyToken = mercy.discovery.endpoints.token!.value;
  epicIssuerId = (await sandboxIssuer(ops.actor, sandbox.epic.fhirBase, 'epic-app-nonprod')).id;
});

afterAll(async () => {
  await sandbox.stop();
  await jwks.close();
  await closeDb();
});

async function registeredAtMercy() {
  const { appId } = await insertApp({
    environments: {
      production: { tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'ES384', grantTypes: ['client_credentials'], responseTypes: [], redirectUris: ['https://app.example.com/callback'], scope: 'system/Patient.rs' },
    },
  });
  const reg = await register(ops.actor, mercyIssuerId, appId, { initialAccessToken: await sandbox.mintInitialAccessToken('mercy') });
  return { ...reg, appId };
}

async function keysOf(appId: string) {
  return getDb().select({ id: appKeys.id, kid: appKeys.kid, state: appKeys.state }).from(appKeys).where(and(eq(appKeys.appId, appId), eq(appKeys.purpose, 'client_auth'))).orderBy(appKeys.createdAt);
}

describe('key rollover for private_key_jwt with Registrar’s hosted JWKS (Mercy Health)', () => {
  it('publishes the new key beside the old, verifies a token signed with it, switches signing, and retires the old key after the cache window', async () => {
    const reg = await registeredAtMercy();
    const oldKeyId = (await registrationRow(reg.registrationId)).appKeyId!;
    const plan = await planRotation(ops.actor, { registrationId: reg.registrationId });
    expect(plan).toMatchObject({ strategy: 'key_rollover', verification: 'token_request', needsInitialAccessToken: false });

    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(result).toMatchObject({ state: 'current', strategy: 'key_rollover', verifiedBy: 'token request (client_credentials)' });
    const row = await registrationRow(reg.registrationId);
    expect(row.appKeyId).not.toBe(oldKeyId);
    expect(row.clientId).toBe(reg.clientId);
    const keys = await keysOf(reg.appId);
    expect(keys.map((k) => [k.id, k.state])).toEqual([
      [oldKeyId, 'next'],
      [row.appKeyId, 'active'],
    ]);
    // Both published during the cache window; the private halves never.
    const published = await publishedJwks(reg.appId, 'production');
    expect(published.keys.map((k) => k.kid)).toEqual(keys.map((k) => k.kid));
    expect(JSON.stringify(published)).not.toMatch(/"d"/);
    await tokenWithCurrentCredential(reg.registrationId, mercyToken);
    expect(new Date(result.cleanupAt!).getTime()).toBeGreaterThan(Date.now() + 28 * 3600_000);

    expect(await runRotationCleanup(result.id)).toBe('skipped');
    await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, result.id));
    expect(await runRotationCleanup(result.id)).toBe('done');
    expect((await keysOf(reg.appId)).map((k) => k.state)).toEqual(['retired', 'active']);
    expect((await publishedJwks(reg.appId, 'production')).keys.map((k) => k.kid)).toEqual([keys[1]!.kid]);
    await tokenWithCurrentCredential(reg.registrationId, mercyToken);
  });

  it('an old key a registration still uses inline stays published, and is looked at again each day until it can be retired', async () => {
    const reg = await registeredAtMercy();
    const oldKeyId = (await registrationRow(reg.registrationId)).appKeyId!;
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(result.state).toBe('current');
    // Another registration of the app that sent the old key inline (jwks) at registration.
    const inline = await register(ops.actor, mercyIssuerId, reg.appId, { initialAccessToken: await sandbox.mintInitialAccessToken('mercy') });
    await getDb().update(registrations).set({ appKeyId: oldKeyId }).where(eq(registrations.id, inline.registrationId));

    await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, result.id));
    expect(await runRotationCleanup(result.id)).toBe('retry');
    const [waiting] = await getDb().select().from(rotations).where(eq(rotations.id, result.id));
    expect(waiting!.cleanupDoneAt).toBeNull();
    expect(waiting!.cleanupError).toMatch(/still used by 1 registration\(s\) that registered it inline/);
    expect(waiting!.cleanupAt!.getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect((await keysOf(reg.appId)).find((k) => k.id === oldKeyId)?.state).toBe('next');

    // That registration is gone: the next look retires the key.
    await getDb().update(registrations).set({ status: 'deleted', deletedAt: new Date() }).where(eq(registrations.id, inline.registrationId));
    await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, result.id));
    expect(await runRotationCleanup(result.id)).toBe('done');
    expect((await keysOf(reg.appId)).find((k) => k.id === oldKeyId)?.state).toBe('retired');
  });

  const BOUNDARIES: RotationStep[] = ['in_flight', 'new_credential_stored', 'verified', 'current'];
  it.each(BOUNDARIES)('a crash right after “%s” resumes and converges: one active key, used by the registration', async (boundary) => {
    const reg = await registeredAtMercy();
    let crashed = false;
    await expect(
      startRotation(ops.actor, { registrationId: reg.registrationId }, {
        afterStep: (step) => {
          if (step === boundary && !crashed) {
            crashed = true;
            throw new SimulatedCrash(step);
          }
        },
      }),
    ).rejects.toBeInstanceOf(SimulatedCrash);
    const [rot] = await rotationRows(reg.registrationId);
    expect((await resumeRotation(rot!.id)).state).toBe('current');
    const keys = await keysOf(reg.appId);
    expect(keys).toHaveLength(2);
    expect(keys.filter((k) => k.state === 'active')).toHaveLength(1);
    expect((await registrationRow(reg.registrationId)).appKeyId).toBe(keys.find((k) => k.state === 'active')!.id);
    await tokenWithCurrentCredential(reg.registrationId, mercyToken);
  });

  it('after a rollover, every registration on the hosted key is rotated and none stays due, even when the run dies right after the switch', async () => {
    const reg = await registeredAtMercy();
    const sibling = await register(ops.actor, mercyIssuerId, reg.appId, { initialAccessToken: await sandbox.mintInitialAccessToken('mercy') });
    await setRotationOverrides(ops.actor, { kind: 'app', id: reg.appId, overrides: { maxAgeDays: 90 } });
    await reconcileRenewals({ issuerId: mercyIssuerId });
    // Both due: their keys are older than the policy allows.
    const past = new Date(Date.now() - 86_400_000);
    await getDb().update(registrations).set({ renewAt: past, lastRotatedAt: new Date(Date.now() - 100 * 86_400_000) }).where(inArray(registrations.id, [reg.registrationId, sibling.registrationId]));
    const crash = async (step: RotationStep) => {
      if (step === 'current') throw new SimulatedCrash(step);
    };
    await expect(startRotation(ops.actor, { registrationId: reg.registrationId }, { afterStep: crash })).rejects.toBeInstanceOf(SimulatedCrash);
    const due = await dueForRenewal(new Date(), 'automatic', 1000, mercyIssuerId);
    const manualDue = await dueForRenewal(new Date(), 'manual', 1000, mercyIssuerId);
    for (const id of [reg.registrationId, sibling.registrationId]) {
      const row = await registrationRow(id);
      expect(row.lastRotatedAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect(row.renewAt).toBeNull();
      expect(due).not.toContain(id);
      expect(manualDue).not.toContain(id);
    }
    // The next scan's recomputation sets them from the new key's age.
    await reconcileRenewals({ issuerId: mercyIssuerId });
    for (const id of [reg.registrationId, sibling.registrationId]) expect((await registrationRow(id)).renewAt!.getTime()).toBeGreaterThan(Date.now() + 30 * 86_400_000);
  });
});

describe('registrations sharing one hosted key, rolled over at once (they fall due together)', () => {
  it('share one new key, both switch without a deadlock, both sign with it, and the old key is retired once', async () => {
    const reg = await registeredAtMercy();
    const sibling = await register(ops.actor, mercyIssuerId, reg.appId, { initialAccessToken: await sandbox.mintInitialAccessToken('mercy') });
    const [oldKey] = await keysOf(reg.appId);
    // Both runs wait for each other after verifying, so their switches start together.
    let verified = 0;
    let release!: () => void;
    const bothVerified = new Promise<void>((resolve) => (release = resolve));
    const together = async (step: RotationStep) => {
      if (step !== 'verified') return;
      if (++verified === 2) release();
      await bothVerified;
    };
    const started = Date.now();
    const [a, b] = await Promise.all([reg.registrationId, sibling.registrationId].map((registrationId) => startRotation(ops.actor, { registrationId }, { afterStep: together })));
    expect(a).toMatchObject({ state: 'current', strategy: 'key_rollover', error: null });
    expect(b).toMatchObject({ state: 'current', strategy: 'key_rollover', error: null });
    // PostgreSQL breaks a deadlock only after deadlock_timeout (1 s); taking turns is immediate.
    expect(Date.now() - started).toBeLessThan(5_000);

    const keys = await keysOf(reg.appId);
    expect(keys).toHaveLength(2);
    const newKey = keys.find((k) => k.id !== oldKey!.id)!;
    expect(newKey.state).toBe('active');
    for (const id of [reg.registrationId, sibling.registrationId]) {
      expect((await registrationRow(id)).appKeyId).toBe(newKey.id);
      await tokenWithCurrentCredential(id, mercyToken);
    }
    expect((await publishedJwks(reg.appId, 'production')).keys.map((k) => k.kid).sort()).toEqual([oldKey!.kid, newKey.kid].sort());

    for (const rot of [a!, b!]) {
      await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, rot.id));
      expect(await runRotationCleanup(rot.id)).toBe('done');
    }
    expect((await keysOf(reg.appId)).map((k) => k.state).sort()).toEqual(['active', 'retired']);
  });
});

describe('no management (Epic-like): a new registration with a new key, after a fresh initial access token', () => {
  async function registeredAtEpic() {
    const { appId } = await insertApp({ environments: { 'non-production': { tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'RS384', epicClientId: 'epic-app-nonprod' } } });
    const reg = await register(ops.actor, epicIssuerId, appId, { environment: 'non-production', initialAccessToken: await sandbox.mintInitialAccessToken('epic') });
    return { ...reg, appId };
  }

  /** RFC 7523 §2.1 at the Epic sandbox's token endpoint, signed with the registration's key. */
  async function epicToken(registrationId: string): Promise<number> {
    const reg = await registrationRow(registrationId);
    const [key] = await getDb().select().from(appKeys).where(eq(appKeys.id, reg.appKeyId!));
    const tokenEndpoint = `${sandbox.epic.origin}/oauth2/token`;
    const assertion = await signClientAssertion({ clientId: reg.clientId, tokenEndpoint, privateKeyPkcs8Pem: await readAppPrivateKey(key!.id), alg: 'RS384', kid: key!.kid });
    const res = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
    });
    return res.status;
  }

  it('waits for the token, registers a new client with a new key, waits for a person to verify, then switches; the old client is left for the hospital to remove', async () => {
    const reg = await registeredAtEpic();
    const oldKeyId = (await registrationRow(reg.registrationId)).appKeyId!;
    const plan = await planRotation(ops.actor, { registrationId: reg.registrationId });
    expect(plan).toMatchObject({ strategy: 'new_registration', needsInitialAccessToken: true, verification: 'person' });

    const waiting = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(waiting.state).toBe('waiting_for_initial_access_token');
    expect(await replacementsOf(reg.registrationId)).toHaveLength(0);

    // A spent token is refused by the hospital: still waiting, with the hospital's reason.
    const spent = await sandbox.mintInitialAccessToken('epic');
    await register(ops.actor, epicIssuerId, (await insertApp({ environments: { 'non-production': { tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'RS384', epicClientId: 'epic-app-nonprod' } } })).appId, { environment: 'non-production', initialAccessToken: spent });
    const refused = await supplyInitialAccessToken(ops.actor, { rotationId: waiting.id, initialAccessToken: spent });
    expect(refused.state).toBe('waiting_for_initial_access_token');
    expect(refused.error?.message).toMatch(/initial access token/);

    const registered = await supplyInitialAccessToken(ops.actor, { rotationId: waiting.id, initialAccessToken: await sandbox.mintInitialAccessToken('epic') });
    expect(registered.state).toBe('waiting_for_verification');
    expect(registered.newClientId).toMatch(/^G/);
    const created = await registrationRow(registered.newRegistrationId!);
    expect(created.appKeyId).not.toBe(oldKeyId);
    expect(await epicToken(created.id)).toBe(200);
    // Still the old client until a person confirms; and the old key still works for it.
    expect((await resolveActiveRegistration(reg.registrationId)).registrationId).toBe(reg.registrationId);
    expect(await epicToken(reg.registrationId)).toBe(200);
    expect(await rotationOperations(waiting.id)).toHaveLength(2); // the refused attempt and the one that worked

    const done = await confirmRotationVerified(ops.actor, { rotationId: waiting.id });
    expect(done).toMatchObject({ state: 'current', verifiedBy: ops.email });
    expect((await resolveActiveRegistration(reg.registrationId)).registrationId).toBe(created.id);

    await getDb().update(rotations).set({ cleanupAt: new Date(Date.now() - 1000) }).where(eq(rotations.id, waiting.id));
    expect(await runRotationCleanup(waiting.id)).toBe('manual');
    expect((await registrationRow(reg.registrationId)).attentionReason).toMatch(/no management API: ask it to remove client/);
    const confirmAgain = await captureError(() => confirmRotationVerified(ops.actor, { rotationId: waiting.id }));
    expect(confirmAgain.code).toBe('CONFLICT');
  });

  it('a start request with a token joins the rotation waiting for one and gives it the token (the API’s only way to); one that no longer waits refuses a token', async () => {
    const reg = await registeredAtEpic();
    const waiting = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(waiting).toMatchObject({ state: 'waiting_for_initial_access_token', joined: false });

    const joined = await startRotation(ops.actor, { registrationId: reg.registrationId, initialAccessToken: await sandbox.mintInitialAccessToken('epic') });
    expect(joined).toMatchObject({ id: waiting.id, joined: true, state: 'waiting_for_verification', newClientId: expect.stringMatching(/^G/) });

    const before = await rotationOperations(waiting.id);
    const refused = await captureError(() => startRotation(ops.actor, { registrationId: reg.registrationId, initialAccessToken: 'another-token' }));
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toMatch(/already waiting for verification and does not need an initial access token; nothing was sent/);
    expect(await rotationOperations(waiting.id)).toHaveLength(before.length);
  });
});
