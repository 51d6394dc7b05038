import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertIssuer, insertUser } from '@/db/factories';
import { auditLog, credentials, rotations } from '@/db/schema';
import { deriveKeyId } from '@/lib/credentials/keyring';
import { readCurrentCredential } from '@/lib/credentials/store';
import { fingerprintSecret, generateKeyMaterial } from '@/lib/credentials/vault';
import { startFakeRfc7592Server } from '@/test/support/fake-rfc7592';
import { currentVaultKeys, setVaultKeys } from '@/test/support/vault-keys';
import { runRotationBatch } from './batch';
import { createRotations } from './create';
import { planRotation } from './plan';
import { resumeRotation, startRotation } from './run';
import { readOverrides, setRotationOverrides } from './settings';
import { allowlist, clientCredentialsApp, register, rotationRows, tokenWithCurrentCredential } from './test-support';
import { VERIFIED_BY } from './store-answers';

/**
 * Whether an RFC 7592 answer carries a NEW client secret is decided by comparing its keyed
 * fingerprint with the stored one. Fingerprints are keyed by a KEK: while the current key differs
 * from the key a stored fingerprint was made with (REGISTRAR_KEY changed, the old key in
 * REGISTRAR_PREVIOUS_KEYS, before or during keys:rotate), an unchanged secret must still compare
 * as unchanged. A hand-written RFC 7592 server on loopback that keeps the secret on update (or
 * issues a new one, as each test chooses), with a token endpoint that accepts only the current one.
 */
let fake: Awaited<ReturnType<typeof startFakeRfc7592Server>>;

const saved = currentVaultKeys();
let admin: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;

beforeAll(async () => {
  // Like many servers that do not rotate on update: the answer repeats the (unchanged) client_secret.
  fake = await startFakeRfc7592Server({ newSecretOnPut: false, clientIdPrefix: 'fpk' });
  admin = await insertUser({ role: 'admin' });
  ops = await insertUser({ role: 'ops' });
  await allowlist(admin.actor, fake.origin);
});

afterEach(() => {
  fake.faults = {};
  setVaultKeys(saved);
});

afterAll(async () => {
  setVaultKeys(saved);
  await fake.close();
  await closeDb();
});

const kidOf = (key: string) => deriveKeyId(Buffer.from(key, 'base64'));

/** Which keys are configured when the secret is registered, and which when the rotation runs. */
type KeyChange = { name: string; before: (k1: string, k2: string) => Record<string, string>; during: (k1: string, k2: string) => Record<string, string> };
const SAME_KEY: KeyChange = { name: 'the key the stored fingerprint was made with is current', before: (k1) => ({ REGISTRAR_KEY: k1 }), during: (k1) => ({ REGISTRAR_KEY: k1 }) };
const NEW_KEY: KeyChange = {
  name: 'REGISTRAR_KEY changed since (the old key in REGISTRAR_PREVIOUS_KEYS, keys:rotate not run yet)',
  before: (k1) => ({ REGISTRAR_KEY: k1 }),
  during: (k1, k2) => ({ REGISTRAR_KEY: k2, REGISTRAR_PREVIOUS_KEYS: k1 }),
};
const OLDER_INSTANCE: KeyChange = {
  name: 'written by an instance already on a new key, rotated by one still on the old key (the new one among its previous keys)',
  before: (_k1, k2) => ({ REGISTRAR_KEY: k2 }),
  during: (k1, k2) => ({ REGISTRAR_KEY: k1, REGISTRAR_PREVIOUS_KEYS: k2 }),
};

/** A registration at the fake (its own issuer, which is said to issue secrets on update) with its secret stored under `change.before`, then the keys of `change.during`. */
async function registeredUnder(change: KeyChange) {
  const k1 = generateKeyMaterial();
  const k2 = generateKeyMaterial();
  const { issuerId } = await insertIssuer({ registrationEndpoint: `${fake.origin}/register`, tokenEndpoint: `${fake.origin}/token` });
  await setRotationOverrides(ops.actor, { kind: 'issuer', id: issuerId, overrides: { updateIssuesSecret: true } });
  const { appId } = await clientCredentialsApp();
  setVaultKeys(change.before(k1, k2));
  const reg = await register(ops.actor, issuerId, appId);
  const stored = await storedSecret(reg.registrationId);
  setVaultKeys(change.during(k1, k2));
  return { ...reg, issuerId, client: fake.clients.get(reg.clientId)!, stored, k1, k2 };
}

/** The current client_secret row as stored (its fingerprint and the key of its envelope). */
async function storedSecret(registrationId: string) {
  const [row] = await getDb()
    .select({ id: credentials.id, version: credentials.version, fingerprint: credentials.fingerprint, envelope: credentials.envelope })
    .from(credentials)
    .where(and(eq(credentials.ownerId, registrationId), eq(credentials.kind, 'client_secret'), eq(credentials.state, 'current')));
  return { id: row!.id, version: row!.version, fingerprint: row!.fingerprint, kid: row!.envelope.kid };
}

async function secretRows(registrationId: string) {
  return getDb().select({ id: credentials.id, state: credentials.state }).from(credentials).where(and(eq(credentials.ownerId, registrationId), eq(credentials.kind, 'client_secret')));
}

async function expectKeptSecretLearned(reg: Awaited<ReturnType<typeof registeredUnder>>, rotationId: string) {
  const [rot] = await getDb().select().from(rotations).where(eq(rotations.id, rotationId));
  expect(rot).toMatchObject({ strategy: 're_registration', fallbackFrom: 'rfc7592_update' });
  expect(rot!.verifiedBy).not.toBe(VERIFIED_BY);
  expect((await readOverrides('issuer', reg.issuerId)).updateIssuesSecret).toBe(false);
  // The kept secret was not stored as a new one: the registration still has its one secret row.
  expect(await secretRows(reg.registrationId)).toEqual([{ id: reg.stored.id, state: expect.any(String) }]);
  const fallback = await getDb()
    .select({ details: auditLog.details })
    .from(auditLog)
    .where(and(eq(auditLog.targetId, reg.registrationId), eq(auditLog.action, 'rotation.fallback')));
  expect(fallback).toEqual([{ details: expect.objectContaining({ rotationId, reason: 'no_new_secret' }) }]);
}

describe('an RFC 7592 update that keeps the old secret is not a new secret, whichever key is current', () => {
  it.each([SAME_KEY, NEW_KEY, OLDER_INSTANCE])('$name: the rotation falls back to re-registration and learns updateIssuesSecret=false', async (change) => {
    const reg = await registeredUnder(change);
    expect(reg.stored.kid).toBe(kidOf(change.before(reg.k1, reg.k2).REGISTRAR_KEY!));
    if (change !== SAME_KEY) expect(fingerprintSecret(reg.client.secret)).not.toBe(reg.stored.fingerprint); // the case at issue: under the current key it would look new
    expect((await planRotation(ops.actor, { registrationId: reg.registrationId })).strategy).toBe('rfc7592_update');

    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(reg.client.puts).toBe(1);
    expect(result).toMatchObject({ strategy: 're_registration', fallbackFrom: 'rfc7592_update' });
    expect(result.verifiedBy).not.toBe(VERIFIED_BY);
    await expectKeptSecretLearned(reg, result.id);
    // The re-registration's new client is what works now.
    expect(result.state).toBe('current');
    expect(result.newRegistrationId).not.toBeNull();
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
  });

  it('a bulk rotation (batch path, group-committed answers) after REGISTRAR_KEY changed: same fallback, nothing stored as a new secret', async () => {
    const reg = await registeredUnder(NEW_KEY);
    const [created] = (await createRotations(ops.actor, [reg.registrationId], 'bulk')).rotations;
    const result = await runRotationBatch([created!.rotation.id]);
    // Not rotated in the batch: a kept secret is handed to the rotation's own run, which re-registers.
    expect(result).toEqual({ rotated: [], individually: [created!.rotation.id] });
    expect(reg.client.puts).toBe(1);
    await expectKeptSecretLearned(reg, created!.rotation.id);
  });

  it('the PUT answer is lost after REGISTRAR_KEY changed: the GET shows the same secret, so the update did not take effect (not current, nothing stored); sent again, it falls back', async () => {
    const reg = await registeredUnder(NEW_KEY);
    fake.faults = { dropPutAnswer: true };
    const first = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(reg.client.puts).toBe(1);
    expect(fake.requests.filter((r) => r.url === `/manage/${reg.clientId}` && r.method === 'GET').length).toBeGreaterThanOrEqual(1);
    expect(first).toMatchObject({ state: 'in_flight', strategy: 'rfc7592_update', error: { code: 'UPSTREAM_UNREACHABLE' } });
    expect(first.verifiedBy).not.toBe(VERIFIED_BY);
    expect(await secretRows(reg.registrationId)).toEqual([{ id: reg.stored.id, state: 'current' }]);
    expect((await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!.plaintext).toBe(reg.client.secret);

    fake.faults = {};
    const done = await resumeRotation(first.id, { force: true });
    expect(reg.client.puts).toBe(2);
    expect(done).toMatchObject({ strategy: 're_registration', fallbackFrom: 'rfc7592_update' });
    await expectKeptSecretLearned(reg, first.id);
  });

  it.each([NEW_KEY, OLDER_INSTANCE])('$name: an update that DOES issue a new secret still rotates in place (the new secret is fingerprinted under the current key)', async (change) => {
    const reg = await registeredUnder(change);
    fake.faults = { issueNewSecretOnPut: true };
    const result = await startRotation(ops.actor, { registrationId: reg.registrationId });
    expect(result).toMatchObject({ state: 'current', strategy: 'rfc7592_update', verifiedBy: VERIFIED_BY, fallbackFrom: null });
    const after = await storedSecret(reg.registrationId);
    expect(after.version).toBe(2);
    expect(after.kid).toBe(kidOf(change.during(reg.k1, reg.k2).REGISTRAR_KEY!));
    expect(after.fingerprint).toBe(fingerprintSecret(reg.client.secret));
    expect((await readCurrentCredential(getDb(), 'registration', reg.registrationId, 'client_secret'))!.plaintext).toBe(reg.client.secret);
    expect((await readOverrides('issuer', reg.issuerId)).updateIssuesSecret).toBe(true);
    await tokenWithCurrentCredential(reg.registrationId, `${fake.origin}/token`);
    expect(await rotationRows(reg.registrationId)).toHaveLength(1);
  });
});
