import { createPrivateKey, X509Certificate } from 'node:crypto';
import { and, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertUser, uniqueSuffix } from '@/db/factories';
import { appCertificates, appKeys, auditLog, credentials } from '@/db/schema';
import { isAppError } from '@/lib/errors';
import { keyCanary, makeUdapPki, tablesContaining, type UdapTestPki } from './testing/udap-pki';
import { findUdapCertificate, listUdapCertificates, readUdapSigningMaterial, uploadUdapCertificate } from './udap';

let ops: Awaited<ReturnType<typeof insertUser>>;
let support: Awaited<ReturnType<typeof insertUser>>;
let pki: UdapTestPki;

beforeAll(async () => {
  ops = await insertUser({ role: 'ops' });
  support = await insertUser({ role: 'support' });
  pki = await makeUdapPki('ES384');
});

afterAll(async () => {
  await closeDb();
});

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isAppError(error)) throw new Error(`expected an AppError, got ${String(error)}`);
  return { code: error.code, message: error.message, field: error.details?.field };
}

async function certificateRows(appId: string) {
  const [row] = await getDb().select({ n: count() }).from(appCertificates).where(eq(appCertificates.appId, appId));
  const [keys] = await getDb().select({ n: count() }).from(appKeys).where(and(eq(appKeys.appId, appId), eq(appKeys.purpose, 'udap')));
  return (row?.n ?? 0) + (keys?.n ?? 0);
}

describe('uploading a UDAP certificate', () => {
  it('stores the chain and the key (in the vault) and returns the subject, SAN, validity and fingerprint only', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    const result = await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: `${pki.leafPem}\n${pki.caPem}`, privateKeyPem: pki.leafKeyPem });
    const leaf = new X509Certificate(pki.leafPem);
    expect(result).toMatchObject({ environment: 'production', sanUris: [pki.sanUri], subject: 'CN=Registrar UDAP Client', alg: 'ES384', chainLength: 2 });
    expect(result.fingerprintSha256).toBe(leaf.fingerprint256);
    expect(result.notAfter).toBe(new Date(leaf.validTo).toISOString());
    expect(Object.keys(result).sort()).toEqual(['alg', 'chainLength', 'createdAt', 'createdBy', 'environment', 'fingerprintSha256', 'id', 'issuer', 'notAfter', 'notBefore', 'sanUris', 'serialNumber', 'subject']);
    expect(keyCanary(pki.leafKeyPem).foundIn(JSON.stringify(result))).toBe(false);

    const material = await readUdapSigningMaterial(appId, 'production');
    expect(material?.certificateChainPem).toHaveLength(2);
    // The key that comes back out of the vault is the uploaded one.
    expect(createPrivateKey(material!.privateKeyPkcs8Pem).export({ format: 'jwk' }).d).toBe(createPrivateKey(pki.leafKeyPem).export({ format: 'jwk' }).d);
    const [cred] = await getDb().select().from(credentials).where(and(eq(credentials.ownerType, 'app_key'), eq(credentials.ownerId, material!.appKeyId)));
    expect(cred).toMatchObject({ kind: 'private_key', state: 'current' });
    expect(await listUdapCertificates(support.actor, appId)).toEqual([result]);

    const [audit] = await getDb().select().from(auditLog).where(and(eq(auditLog.action, 'app.udap_certificate.upload'), eq(auditLog.targetId, appId)));
    expect(audit?.outcome).toBe('success');
    expect(audit?.details).toMatchObject({ environment: 'production', fingerprintSha256: result.fingerprintSha256 });
  });

  it('a second upload replaces the first: one active certificate per environment, the old key retired', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    const first = await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: pki.leafPem, privateKeyPem: pki.leafKeyPem });
    const other = await makeUdapPki('RS256', { sanUri: 'https://registrar.example.com/udap/second' });
    const second = await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: other.leafPem, privateKeyPem: other.leafKeyPem });
    expect(second.alg).toBe('RS256');
    expect((await findUdapCertificate(appId, 'production'))?.id).toBe(second.id);
    const states = await getDb().select({ id: appCertificates.id, state: appCertificates.state }).from(appCertificates).where(eq(appCertificates.appId, appId));
    expect(states.find((s) => s.id === first.id)?.state).toBe('retired');
    const keyStates = await getDb().select({ state: appKeys.state }).from(appKeys).where(and(eq(appKeys.appId, appId), eq(appKeys.purpose, 'udap')));
    expect(keyStates.map((k) => k.state).sort()).toEqual(['active', 'retired']);
  });

  it('accepts a P-256 key in SEC1 form ("EC PRIVATE KEY") and keeps it as PKCS#8, signing ES256', async () => {
    const p256 = await makeUdapPki('ES256');
    const sec1 = createPrivateKey(p256.leafKeyPem).export({ type: 'sec1', format: 'pem' }).toString();
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    const { appId } = await insertApp({ environments: { production: {} } });
    const result = await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: p256.leafPem, privateKeyPem: sec1 });
    expect(result.alg).toBe('ES256');
    expect((await readUdapSigningMaterial(appId, 'production'))?.privateKeyPkcs8Pem).toContain('BEGIN PRIVATE KEY');
  });

  it('refuses a key that does not match the certificate, saying so, and stores nothing', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    const error = await refusal(uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: pki.leafPem, privateKeyPem: pki.otherKeyPem }));
    expect(error).toMatchObject({ code: 'INVALID', field: 'privateKeyPem' });
    expect(error.message).toMatch(/^The private key does not match the client certificate/);
    expect(keyCanary(pki.otherKeyPem).foundIn(error.message)).toBe(false);
    expect(await certificateRows(appId)).toBe(0);
  });

  it('refuses a certificate without a URI subjectAltName, saying UDAP needs it as iss and sub', async () => {
    const noSan = await makeUdapPki('ES384', { sanUri: null });
    const { appId } = await insertApp({ environments: { production: {} } });
    const error = await refusal(uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: noSan.leafPem, privateKeyPem: noSan.leafKeyPem }));
    expect(error).toMatchObject({ code: 'INVALID', field: 'certificateChainPem' });
    expect(error.message).toMatch(/^The client certificate has no URI subjectAltName\. UDAP uses that URI as the software statement’s iss and sub/);
    expect(await certificateRows(appId)).toBe(0);
  });

  it('refuses a chain that is not leaf first, an expired or not yet valid certificate, a key pasted as the certificate, and an unreadable key', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    const base = { appId, environment: 'production', certificateChainPem: pki.leafPem, privateKeyPem: pki.leafKeyPem };
    expect((await refusal(uploadUdapCertificate(ops.actor, { ...base, certificateChainPem: `${pki.caPem}\n${pki.leafPem}` }))).message).toMatch(/leaf first/);
    const expired = await makeUdapPki('ES384', { notAfter: new Date(Date.now() - 60_000) });
    expect((await refusal(uploadUdapCertificate(ops.actor, { ...base, certificateChainPem: expired.leafPem, privateKeyPem: expired.leafKeyPem }))).message).toMatch(/^The client certificate expired on/);
    const early = await makeUdapPki('ES384', { notBefore: new Date(Date.now() + 86_400_000), notAfter: new Date(Date.now() + 2 * 86_400_000) });
    expect((await refusal(uploadUdapCertificate(ops.actor, { ...base, certificateChainPem: early.leafPem, privateKeyPem: early.leafKeyPem }))).message).toMatch(/^The client certificate is not valid before/);
    const pasted = await refusal(uploadUdapCertificate(ops.actor, { ...base, certificateChainPem: `${pki.leafPem}\n${pki.leafKeyPem}` }));
    expect(pasted).toMatchObject({ field: 'certificateChainPem' });
    expect(pasted.message).toMatch(/contains a private key/);
    const garbage = await refusal(uploadUdapCertificate(ops.actor, { ...base, privateKeyPem: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----' }));
    expect(garbage).toMatchObject({ field: 'privateKeyPem' });
    expect(garbage.message).toMatch(/not a readable PEM private key/);
    expect((await refusal(uploadUdapCertificate(ops.actor, { ...base, environment: 'staging' }))).message).toMatch(/no "staging" environment/);
    expect(await certificateRows(appId)).toBe(0);
  });

  it('refuses a chain whose issuer has the right name but did not sign the client certificate (another CA of the same name)', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    // Same CA name, other keys: a name (and no key identifier) match alone would accept it.
    const impostor = await makeUdapPki('ES384');
    expect(new X509Certificate(pki.leafPem).checkIssued(new X509Certificate(impostor.caPem))).toBe(true);
    const refused = await refusal(uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: `${pki.leafPem}\n${impostor.caPem}`, privateKeyPem: pki.leafKeyPem }));
    expect(refused).toMatchObject({ code: 'INVALID', field: 'certificateChainPem' });
    expect(refused.message).toMatch(/Certificate 1 of the chain names certificate 2 as its issuer, but is not signed by its key/);
    expect(await certificateRows(appId)).toBe(0);
  });

  it('refuses support with FORBIDDEN and stores nothing', async () => {
    const { appId } = await insertApp({ environments: { production: {} } });
    expect((await refusal(uploadUdapCertificate(support.actor, { appId, environment: 'production', certificateChainPem: pki.leafPem, privateKeyPem: pki.leafKeyPem }))).code).toBe('FORBIDDEN');
    expect(await certificateRows(appId)).toBe(0);
  });
});

describe('the private key canary', () => {
  it('the scan finds a key wherever it is stored as text (so a clean scan means something)', async () => {
    const canary = keyCanary(pki.leafKeyPem);
    expect(canary.foundIn(pki.leafKeyPem)).toBe(true);
    expect(canary.foundIn(JSON.stringify({ pem: pki.leafKeyPem }))).toBe(true);
    expect(canary.foundIn(JSON.stringify(createPrivateKey(pki.leafKeyPem).export({ format: 'jwk' })))).toBe(true);
    expect(canary.foundIn(createPrivateKey(pki.leafKeyPem).export({ type: 'sec1', format: 'der' }).toString('base64'))).toBe(true);
    expect(canary.foundIn(pki.leafPem + pki.caPem)).toBe(false);
    const probe = `canary_probe_${uniqueSuffix()}`;
    await getDb().execute(sql.raw(`create table ${probe} (v text)`));
    try {
      await getDb().execute(sql`insert into ${sql.identifier(probe)} values (${pki.leafKeyPem})`);
      expect(await tablesContaining(canary.fragments)).toMatchObject({ [probe]: 1 });
    } finally {
      await getDb().execute(sql.raw(`drop table ${probe}`));
    }
  });

  it('after an upload the key appears in no table, credentials envelopes included (they are encrypted)', async () => {
    const fresh = await makeUdapPki('ES384');
    const { appId } = await insertApp({ environments: { production: {} } });
    // A refused upload (wrong certificate for the key) must not leave it anywhere either.
    await refusal(uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: pki.leafPem, privateKeyPem: fresh.leafKeyPem }));
    await uploadUdapCertificate(ops.actor, { appId, environment: 'production', certificateChainPem: `${fresh.leafPem}${fresh.caPem}`, privateKeyPem: fresh.leafKeyPem });
    expect(await readUdapSigningMaterial(appId, 'production')).not.toBeNull();
    expect(await tablesContaining(keyCanary(fresh.leafKeyPem).fragments)).toEqual({});
  });
});
