import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, getDb, getPool } from '@/db/client';
import { auditLog, credentials, type Envelope } from '@/db/schema';
import { isAppError, type AppError } from '@/lib/errors';
import {
  credentialAad,
  listCredentialMeta,
  pendingRewrapSummary,
  promoteCredential,
  readCredentialById,
  readCurrentCredential,
  rewrapCredentials,
  storeCredential,
} from './store';
import { deriveKeyId } from './keyring';
import { fingerprintSecret, generateKeyMaterial } from './vault';
import { currentVaultKeys, setVaultKeys } from '@/test/support/vault-keys';

const saved = currentVaultKeys();
const configureKeys = setVaultKeys;

afterAll(async () => {
  configureKeys(saved);
  await closeDb();
});

const kidOf = (key: string) => deriveKeyId(Buffer.from(key, 'base64'));
const canary = () => `canary-${randomUUID()}`;

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  if (!isAppError(error)) throw error;
  return error;
}

async function rawRow(id: string) {
  const { rows } = await getPool().query<{ envelope: string; row: string }>('select envelope::text as envelope, row_to_json(c)::text as row from credentials c where id = $1', [id]);
  return rows[0];
}

describe('storeCredential and the reads', () => {
  it('stores encrypted and reads back the plaintext; the table never holds the plaintext', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const ownerId = randomUUID();
    const secret = canary();
    const stored = await storeCredential(getDb(), { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: secret, expiresAt: new Date('2030-01-01T00:00:00Z') });
    expect(stored).toEqual({ id: expect.any(String), fingerprint: fingerprintSecret(secret), version: 1 });

    const raw = await rawRow(stored.id);
    expect(raw?.envelope).toContain('"kid"');
    expect(raw?.envelope).not.toContain(secret);
    expect(raw?.row).not.toContain(secret);
    expect(raw?.row).not.toContain(Buffer.from(secret).toString('base64'));
    expect(raw?.row).not.toContain(Buffer.from(secret).toString('base64url'));

    const current = await readCurrentCredential(getDb(), 'registration', ownerId, 'client_secret');
    expect(current).toEqual({ id: stored.id, plaintext: secret, fingerprint: stored.fingerprint, version: 1, expiresAt: new Date('2030-01-01T00:00:00Z'), createdAt: expect.any(Date) });
    expect(await readCredentialById(getDb(), stored.id)).toEqual(current);
    expect(await readCurrentCredential(getDb(), 'registration', ownerId, 'registration_access_token')).toBeNull();
    expect(await readCredentialById(getDb(), randomUUID())).toBeNull();
    expect(await readCredentialById(getDb(), 'not-a-uuid')).toBeNull();
  });

  it('accepts an upper-case owner id (PostgreSQL lower-cases uuids; the AAD must match on read)', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const ownerId = randomUUID().toUpperCase();
    const secret = canary();
    await storeCredential(getDb(), { ownerType: 'app_key', ownerId, kind: 'private_key', plaintext: secret });
    expect((await readCurrentCredential(getDb(), 'app_key', ownerId, 'private_key'))?.plaintext).toBe(secret);
    expect((await readCurrentCredential(getDb(), 'app_key', ownerId.toLowerCase(), 'private_key'))?.plaintext).toBe(secret);
  });

  it('demotes the previous current credential and bumps the version', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const ownerId = randomUUID();
    const secrets = [canary(), canary(), canary()];
    const stored = [];
    for (const plaintext of secrets) stored.push(await storeCredential(getDb(), { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext }));
    expect(stored.map((s) => s.version)).toEqual([1, 2, 3]);
    // Another kind of the same owner is independent.
    await storeCredential(getDb(), { ownerType: 'registration', ownerId, kind: 'registration_access_token', plaintext: canary() });

    const meta = await listCredentialMeta(getDb(), 'registration', ownerId);
    const secretsMeta = meta.filter((m) => m.kind === 'client_secret');
    expect(secretsMeta.map((m) => [m.version, m.state])).toEqual([
      [3, 'current'],
      [2, 'previous'],
      [1, 'previous'],
    ]);
    expect(meta.find((m) => m.kind === 'registration_access_token')).toMatchObject({ state: 'current', version: 1 });
    expect((await readCurrentCredential(getDb(), 'registration', ownerId, 'client_secret'))?.plaintext).toBe(secrets[2]);
    // Previous versions stay readable by id.
    expect((await readCredentialById(getDb(), stored[0]!.id))?.plaintext).toBe(secrets[0]);
  });

  it('keeps one current per owner and kind under concurrent stores', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const ownerId = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => getDb().transaction((tx) => storeCredential(tx, { ownerType: 'operation', ownerId, kind: 'response_body', plaintext: canary() }))),
    );
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const meta = await listCredentialMeta(getDb(), 'operation', ownerId);
    expect(meta.filter((m) => m.state === 'current')).toHaveLength(1);
    expect(meta.find((m) => m.state === 'current')?.version).toBe(6);
  });

  it('is backed by the partial unique index: a second current row is refused by the database', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const ownerId = randomUUID();
    const first = await storeCredential(getDb(), { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: canary() });
    const [row] = await getDb().select().from(credentials).where(eq(credentials.id, first.id));
    const insert = getDb().insert(credentials).values({ ...row!, id: randomUUID(), version: 2 });
    await expect(insert).rejects.toThrow();
    const error = (await insert.then(() => null, (e: unknown) => e)) as { cause?: { constraint?: string }; constraint?: string } | null;
    expect(error?.cause?.constraint ?? error?.constraint).toBe('credentials_one_current_key');
  });

  it('stores without making current when asked, and promotes later', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const ownerId = randomUUID();
    const old = canary();
    const candidate = canary();
    await storeCredential(getDb(), { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: old });
    const pending = await storeCredential(getDb(), { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: candidate, makeCurrent: false });
    expect(pending.version).toBe(2);
    expect((await readCurrentCredential(getDb(), 'registration', ownerId, 'client_secret'))?.plaintext).toBe(old);
    await promoteCredential(getDb(), pending.id);
    expect((await readCurrentCredential(getDb(), 'registration', ownerId, 'client_secret'))?.plaintext).toBe(candidate);
    const meta = await listCredentialMeta(getDb(), 'registration', ownerId);
    expect(meta.map((m) => [m.version, m.state])).toEqual([
      [2, 'current'],
      [1, 'previous'],
    ]);
  });

  it('writes nothing when the vault is locked', async () => {
    configureKeys({});
    const ownerId = randomUUID();
    const secret = canary();
    const error = await rejection(getDb().transaction((tx) => storeCredential(tx, { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: secret })));
    expect(error.code).toBe('VAULT_LOCKED');
    expect(error.message).toContain('Set REGISTRAR_KEY');
    expect(error.message).not.toContain(secret);
    const rows = await getDb().select({ id: credentials.id }).from(credentials).where(eq(credentials.ownerId, ownerId));
    expect(rows).toHaveLength(0);
  });

  it('rolls back with the caller’s transaction', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const ownerId = randomUUID();
    await getDb()
      .transaction(async (tx) => {
        await storeCredential(tx, { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: canary() });
        throw new Error('caller failed');
      })
      .catch(() => {});
    expect(await listCredentialMeta(getDb(), 'registration', ownerId)).toEqual([]);
  });

  it('refuses to open an envelope moved to another row (VAULT_TAMPERED, no plaintext in the error)', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const secretA = canary();
    const a = await storeCredential(getDb(), { ownerType: 'registration', ownerId: randomUUID(), kind: 'client_secret', plaintext: secretA });
    const b = await storeCredential(getDb(), { ownerType: 'registration', ownerId: randomUUID(), kind: 'client_secret', plaintext: canary() });
    const [rowA] = await getDb().select({ envelope: credentials.envelope }).from(credentials).where(eq(credentials.id, a.id));
    await getDb().update(credentials).set({ envelope: rowA!.envelope }).where(eq(credentials.id, b.id));
    const error = await rejection(readCredentialById(getDb(), b.id));
    expect(error.code).toBe('VAULT_TAMPERED');
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain(secretA);
    // The same envelope still opens where it belongs.
    expect((await readCredentialById(getDb(), a.id))?.plaintext).toBe(secretA);
  });

  it('lists metadata only, with the wrapping key id', async () => {
    const key = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: key });
    const ownerId = randomUUID();
    const secret = canary();
    await storeCredential(getDb(), { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: secret });
    const meta = await listCredentialMeta(getDb(), 'registration', ownerId);
    expect(meta).toHaveLength(1);
    expect(Object.keys(meta[0]!).sort()).toEqual(['createdAt', 'expiresAt', 'fingerprint', 'id', 'keyId', 'keyVersion', 'kind', 'retiredAt', 'state', 'version']);
    expect(meta[0]).toMatchObject({ keyId: kidOf(key), keyVersion: 1, state: 'current', kind: 'client_secret' });
    expect(JSON.stringify(meta)).not.toContain(secret);
  });

  it('refuses an owner id that is not a uuid', async () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    expect((await rejection(storeCredential(getDb(), { ownerType: 'registration', ownerId: 'abc', kind: 'client_secret', plaintext: 'x' }))).code).toBe('INVALID');
  });
});

describe('rewrapCredentials (keys:rotate)', () => {
  it('re-wraps 250 rows in batches, resumes after an interruption, and a second run does nothing', async () => {
    const a = generateKeyMaterial();
    const b = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: a });
    const ownerIds = Array.from({ length: 250 }, () => randomUUID());
    const plaintexts = new Map<string, string>();
    for (let i = 0; i < ownerIds.length; i += 50) {
      await getDb().transaction(async (tx) => {
        for (const ownerId of ownerIds.slice(i, i + 50)) {
          const plaintext = canary();
          const { id } = await storeCredential(tx, { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext });
          plaintexts.set(id, plaintext);
        }
      });
    }
    const ids = [...plaintexts.keys()];
    const byKid = async () => {
      const rows = await getDb()
        .select({ kid: sql<string>`${credentials.envelope}->>'kid'`, n: sql<number>`count(*)::int` })
        .from(credentials)
        .where(inArray(credentials.id, ids))
        .groupBy(sql`1`);
      return Object.fromEntries(rows.map((r) => [r.kid, r.n]));
    };
    expect(await byKid()).toEqual({ [kidOf(a)]: 250 });
    const originals = new Map((await getDb().select({ id: credentials.id, envelope: credentials.envelope }).from(credentials).where(inArray(credentials.id, ids))).map((r) => [r.id, r.envelope]));

    // Rotate: B current, A still able to decrypt.
    configureKeys({ REGISTRAR_KEY: b, REGISTRAR_PREVIOUS_KEYS: a });
    expect((await pendingRewrapSummary()).byKey.find((k) => k.keyId === kidOf(a))).toEqual({ keyId: kidOf(a), keyVersion: 1, count: 250, configured: true });

    // Killed after the first batch committed.
    const interrupted = rewrapCredentials({
      batchSize: 100,
      onProgress: () => {
        throw new Error('killed');
      },
    });
    await expect(interrupted).rejects.toThrow('killed');
    expect(await byKid()).toEqual({ [kidOf(a)]: 150, [kidOf(b)]: 100 });
    const firstBatch = new Map((await getDb().select({ id: credentials.id, envelope: credentials.envelope }).from(credentials).where(and(inArray(credentials.id, ids), sql`${credentials.envelope}->>'kid' = ${kidOf(b)}`))).map((r) => [r.id, r.envelope]));

    const progress: string[] = [];
    const resumed = await rewrapCredentials({ batchSize: 100, onProgress: (p) => void progress.push(`${p.rewrapped}/${p.total}`) });
    expect(resumed).toMatchObject({ rewrapped: 150, total: 150, failed: [], toKey: { keyId: kidOf(b), keyVersion: 1 } });
    expect(progress).toEqual(['100/150', '150/150']);
    expect(await byKid()).toEqual({ [kidOf(b)]: 250 });

    // Rows finished before the interruption were not touched again.
    const after = new Map((await getDb().select({ id: credentials.id, envelope: credentials.envelope }).from(credentials).where(inArray(credentials.id, ids))).map((r) => [r.id, r.envelope]));
    for (const [id, envelope] of firstBatch) expect(after.get(id)).toEqual(envelope);
    // Only the wrap changed; the encrypted values are the originals.
    for (const [id, envelope] of after) {
      const original = originals.get(id)!;
      expect({ iv: envelope.iv, tag: envelope.tag, ct: envelope.ct }).toEqual({ iv: original.iv, tag: original.tag, ct: original.ct });
    }

    // Everything opens with B alone, and fingerprints are now under B.
    configureKeys({ REGISTRAR_KEY: b });
    for (const id of ids) {
      const opened = await readCredentialById(getDb(), id);
      expect(opened?.plaintext).toBe(plaintexts.get(id));
      expect(opened?.fingerprint).toBe(fingerprintSecret(plaintexts.get(id)!));
    }

    // Idempotent: nothing left to do for B.
    configureKeys({ REGISTRAR_KEY: b, REGISTRAR_PREVIOUS_KEYS: a });
    const again = await rewrapCredentials({ batchSize: 100 });
    expect(again).toMatchObject({ rewrapped: 0, total: 0, failed: [] });

    // One audit row per batch: 100, then 100 and 50.
    const audits = await getDb()
      .select({ details: auditLog.details, actorType: auditLog.actorType, outcome: auditLog.outcome })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'vault.rewrap'), sql`${auditLog.details}->>'toKey' = ${`${kidOf(b)}@1`}`))
      .orderBy(auditLog.id);
    expect(audits.map((r) => r.details)).toEqual([
      { count: 100, fromKeys: [`${kidOf(a)}@1`], toKey: `${kidOf(b)}@1` },
      { count: 100, fromKeys: [`${kidOf(a)}@1`], toKey: `${kidOf(b)}@1` },
      { count: 50, fromKeys: [`${kidOf(a)}@1`], toKey: `${kidOf(b)}@1` },
    ]);
    expect(audits.every((r) => r.actorType === 'system' && r.outcome === 'success')).toBe(true);
    expect(JSON.stringify(audits)).not.toContain('canary-');

    // The plaintext is nowhere in the table.
    const { rows } = await getPool().query<{ t: string }>('select row_to_json(c)::text as t from credentials c where id = any($1::uuid[])', [ids]);
    const all = rows.map((r) => r.t).join('\n');
    for (const plaintext of plaintexts.values()) expect(all).not.toContain(plaintext);
  });

  it('reports a tampered row and rows under a missing key, re-wraps the rest, and terminates', async () => {
    const a = generateKeyMaterial();
    const lost = generateKeyMaterial();
    const c = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: lost });
    const underLost = await storeCredential(getDb(), { ownerType: 'registration', ownerId: randomUUID(), kind: 'client_secret', plaintext: canary() });
    configureKeys({ REGISTRAR_KEY: a });
    const stored = [];
    for (let i = 0; i < 5; i++) stored.push(await storeCredential(getDb(), { ownerType: 'registration', ownerId: randomUUID(), kind: 'client_secret', plaintext: canary() }));
    const victim = stored[2]!;
    const [row] = await getDb().select({ envelope: credentials.envelope }).from(credentials).where(eq(credentials.id, victim.id));
    const wk = Buffer.from(row!.envelope.wk, 'base64url');
    wk[0] = wk[0]! ^ 1;
    const tampered: Envelope = { ...row!.envelope, wk: wk.toString('base64url') };
    await getDb().update(credentials).set({ envelope: tampered }).where(eq(credentials.id, victim.id));

    configureKeys({ REGISTRAR_KEY: c, REGISTRAR_PREVIOUS_KEYS: a });
    const result = await rewrapCredentials({ batchSize: 2 });
    expect(result.rewrapped).toBe(4);
    expect(result.failed).toEqual([{ id: victim.id, code: 'VAULT_TAMPERED', message: expect.stringContaining('integrity check') }]);
    expect(result.unconfigured).toContainEqual({ keyId: kidOf(lost), keyVersion: 1, count: 1, configured: false });
    const [victimAfter] = await getDb().select({ envelope: credentials.envelope }).from(credentials).where(eq(credentials.id, victim.id));
    expect(victimAfter!.envelope).toEqual(tampered);
    const [lostAfter] = await getDb().select({ kid: sql<string>`${credentials.envelope}->>'kid'` }).from(credentials).where(eq(credentials.id, underLost.id));
    expect(lostAfter!.kid).toBe(kidOf(lost));
    for (const s of stored.filter((s) => s !== victim)) expect((await readCredentialById(getDb(), s.id))?.plaintext).toMatch(/^canary-/);
  });

  it('skips rows locked by another transaction and picks them up on the next run', async () => {
    const a = generateKeyMaterial();
    const b = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: a });
    const stored = [];
    for (let i = 0; i < 3; i++) stored.push(await storeCredential(getDb(), { ownerType: 'registration', ownerId: randomUUID(), kind: 'client_secret', plaintext: canary() }));
    const locked = stored[1]!;
    configureKeys({ REGISTRAR_KEY: b, REGISTRAR_PREVIOUS_KEYS: a });
    const client = await getPool().connect();
    try {
      await client.query('begin');
      await client.query('select id from credentials where id = $1 for update', [locked.id]);
      const first = await rewrapCredentials({ batchSize: 10 });
      expect(first.rewrapped).toBe(2);
      expect(first.remaining).toBeGreaterThanOrEqual(1);
      const [stillOld] = await getDb().select({ kid: sql<string>`${credentials.envelope}->>'kid'` }).from(credentials).where(eq(credentials.id, locked.id));
      expect(stillOld?.kid).toBe(kidOf(a));
      await client.query('commit');
    } finally {
      client.release();
    }
    const second = await rewrapCredentials({ batchSize: 10 });
    expect(second.rewrapped).toBe(1);
    const rows = await getDb().select({ envelope: credentials.envelope }).from(credentials).where(inArray(credentials.id, stored.map((s) => s.id)));
    expect(rows.every((r) => r.envelope.kid === kidOf(b))).toBe(true);
  });

  it('needs a key to run', async () => {
    configureKeys({});
    expect((await rejection(rewrapCredentials())).code).toBe('VAULT_LOCKED');
  });
});

describe('credentialAad', () => {
  it('binds id, kind, owner type and owner id', () => {
    const row = { id: randomUUID(), kind: 'client_secret' as const, ownerType: 'registration', ownerId: randomUUID() };
    expect(credentialAad(row)).toBe(`credential:${row.id}:client_secret:registration:${row.ownerId}`);
    expect(credentialAad({ ...row, id: row.id.toUpperCase() })).toBe(credentialAad(row));
  });
});
