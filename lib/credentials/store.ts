import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, inArray, notInArray, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { getDb, type DbOrTx, type Tx } from '@/db/client';
import { CREDENTIAL_KINDS, CREDENTIAL_OWNERS, credentials, type CredentialKind, type Envelope } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { systemActor, type Actor } from '@/lib/auth/actor';
import { AppError, isAppError, type ErrorCode } from '@/lib/errors';
import { currentKey, fingerprintSecret, isKeyConfigured, openSecret, rewrapEnvelope, sealSecret } from './vault';
import { isUuid } from '@/lib/ids';

/**
 * The only code that reads or writes `credentials.envelope`. Plaintext goes in through
 * storeCredential and comes out through the read functions; listings carry metadata only.
 */

export type CredentialOwnerType = (typeof CREDENTIAL_OWNERS)[number];
export type CredentialState = 'current' | 'previous' | 'retired';

export type OpenedCredential = { id: string; plaintext: string; fingerprint: string; version: number; expiresAt: Date | null; createdAt: Date };

export type CredentialMeta = {
  id: string;
  kind: CredentialKind;
  state: CredentialState;
  version: number;
  fingerprint: string;
  expiresAt: Date | null;
  createdAt: Date;
  retiredAt: Date | null;
  /** The key-encryption key that wraps this credential, and its version. */
  keyId: string;
  keyVersion: number;
};


/** The additional authenticated data that binds an envelope to its row: moving it to another row makes it unreadable. */
export function credentialAad(row: { id: string; kind: CredentialKind; ownerType: string; ownerId: string }): string {
  // PostgreSQL returns uuids lower-cased; the AAD must be computed the same way on write and read.
  return `credential:${row.id.toLowerCase()}:${row.kind}:${row.ownerType}:${row.ownerId.toLowerCase()}`;
}

/**
 * A value sealed, and its fingerprint made under the key that sealed it: the two are read as a
 * pair (a fresh value is compared under the envelope's key), so they must not differ even if the
 * key file changes between the two calls.
 */
function sealedWithFingerprint(plaintext: string, aad: string): { fingerprint: string; envelope: Envelope } {
  const envelope = sealSecret(plaintext, aad);
  return { fingerprint: fingerprintSecret(plaintext, { keyId: envelope.kid }), envelope };
}

/** The transaction lock that serialises stores of one owner's credentials of one kind. */
function lockCall(ownerType: string, ownerId: string, kind: string): SQL {
  return sql`pg_advisory_xact_lock(hashtextextended(${`credentials:${ownerType}:${ownerId}:${kind}`}, 0))`;
}

function lockKey(ownerType: string, ownerId: string, kind: string): SQL {
  return sql`select ${lockCall(ownerType, ownerId, kind)}`;
}

/**
 * Encrypts and stores a credential. With makeCurrent (the default) the owner's current credential
 * of that kind becomes 'previous' in the same transaction: one current per owner and kind (also a
 * partial unique index). Seals before writing, so a locked vault writes nothing.
 */
export async function storeCredential(
  tx: DbOrTx,
  input: {
    ownerType: CredentialOwnerType;
    ownerId: string;
    kind: CredentialKind;
    plaintext: string;
    expiresAt?: Date | null;
    makeCurrent?: boolean;
  },
): Promise<{ id: string; fingerprint: string; version: number }> {
  if (!CREDENTIAL_OWNERS.includes(input.ownerType)) throw new AppError('INVALID', `Unknown credential owner type "${String(input.ownerType)}".`);
  if (!CREDENTIAL_KINDS.includes(input.kind)) throw new AppError('INVALID', `Unknown credential kind "${String(input.kind)}".`);
  if (!isUuid(input.ownerId)) throw new AppError('INVALID', 'The credential owner id must be a UUID.');
  const makeCurrent = input.makeCurrent ?? true;
  const row = { id: randomUUID(), ownerType: input.ownerType, ownerId: input.ownerId.toLowerCase(), kind: input.kind };
  const envelope = sealSecret(input.plaintext, credentialAad(row));
  // Under the key that sealed it, even if the key file changed in between (the two stay in step).
  const fingerprint = fingerprintSecret(input.plaintext, { keyId: envelope.kid });

  // A savepoint inside the caller's transaction, or a transaction of its own when given the pool.
  return tx.transaction(async (t) => {
    // Serialises concurrent stores for the same owner and kind, so the second demotes the first.
    await t.execute(lockKey(row.ownerType, row.ownerId, row.kind));
    const ownerKind = and(eq(credentials.ownerType, row.ownerType), eq(credentials.ownerId, row.ownerId), eq(credentials.kind, row.kind));
    const [latest] = await t
      .select({ version: sql<number>`coalesce(max(${credentials.version}), 0)::int` })
      .from(credentials)
      .where(ownerKind);
    const version = (latest?.version ?? 0) + 1;
    if (makeCurrent) {
      await t.update(credentials).set({ state: 'previous' }).where(and(ownerKind, eq(credentials.state, 'current')));
    }
    await t.insert(credentials).values({
      ...row,
      state: makeCurrent ? 'current' : 'previous',
      version,
      fingerprint,
      envelope,
      expiresAt: input.expiresAt ?? null,
    });
    return { id: row.id, fingerprint, version };
  });
}

/**
 * Stores several new current credentials of one owner at once (a hospital's answer carrying a new
 * secret, registration access token and body), demoting each kind's current one to previous: the
 * same rules as storeCredential, in three statements inside the caller's transaction whatever the
 * number of kinds — the hot path of bulk rotation.
 */
export async function replaceCurrentCredentials(
  tx: Tx,
  ownerType: CredentialOwnerType,
  ownerId: string,
  items: ReadonlyArray<{ kind: CredentialKind; plaintext: string; expiresAt?: Date | null }>,
): Promise<Array<{ id: string; kind: CredentialKind; fingerprint: string; version: number }>> {
  if (!CREDENTIAL_OWNERS.includes(ownerType)) throw new AppError('INVALID', `Unknown credential owner type "${String(ownerType)}".`);
  if (!isUuid(ownerId)) throw new AppError('INVALID', 'The credential owner id must be a UUID.');
  if (items.some((i) => !CREDENTIAL_KINDS.includes(i.kind))) throw new AppError('INVALID', 'Unknown credential kind.');
  if (new Set(items.map((i) => i.kind)).size !== items.length) throw new AppError('INVALID', 'One new credential per kind.');
  if (items.length === 0) return [];
  const owner = ownerId.toLowerCase();
  const kinds = [...items.map((i) => i.kind)].sort();
  // Same locks as storeCredential, taken in one order so that two callers cannot deadlock.
  await tx.execute(sql`select ${sql.join(kinds.map((kind) => lockCall(ownerType, owner, kind)), sql`, `)}`);
  const ownerKinds = and(eq(credentials.ownerType, ownerType), eq(credentials.ownerId, owner), inArray(credentials.kind, kinds));
  // The select sees the table as it was before the update (one statement, one snapshot): max versions are unaffected.
  const versions = await tx.execute<{ kind: CredentialKind; version: number }>(sql`
    with demoted as (update ${credentials} set state = 'previous' where ${and(ownerKinds, eq(credentials.state, 'current'))} returning 1)
    select ${credentials.kind} as kind, max(${credentials.version})::int as version from ${credentials} where ${ownerKinds} group by ${credentials.kind}`);
  const latest = new Map(versions.rows.map((r) => [r.kind, Number(r.version)]));
  const rows = items.map((item) => {
    const row = { id: randomUUID(), ownerType, ownerId: owner, kind: item.kind };
    return { ...row, state: 'current' as const, version: (latest.get(item.kind) ?? 0) + 1, ...sealedWithFingerprint(item.plaintext, credentialAad(row)), expiresAt: item.expiresAt ?? null };
  });
  await tx.insert(credentials).values(rows);
  return rows.map((r) => ({ id: r.id, kind: r.kind, fingerprint: r.fingerprint, version: r.version }));
}

/**
 * The new current credentials of many owners, for a caller that writes its whole change as one
 * hand-written statement: `sealed.rows` (a jsonb parameter) and `sealed.ownerIds` (a uuid[]
 * parameter) feed replacementCredentialsCtes. Sealed here, so a locked vault writes nothing.
 */
export function sealReplacementCredentials(
  ownerType: CredentialOwnerType,
  owners: ReadonlyArray<{ ownerId: string; items: ReadonlyArray<{ kind: CredentialKind; plaintext: string; expiresAt?: Date | null }> }>,
): { rows: string; ownerIds: string[]; stored: Array<{ id: string; ownerId: string; kind: CredentialKind; fingerprint: string }> } {
  if (!CREDENTIAL_OWNERS.includes(ownerType)) throw new AppError('INVALID', `Unknown credential owner type "${String(ownerType)}".`);
  const rows = owners.flatMap(({ ownerId, items }) => {
    if (!isUuid(ownerId)) throw new AppError('INVALID', 'The credential owner id must be a UUID.');
    if (items.some((i) => !CREDENTIAL_KINDS.includes(i.kind))) throw new AppError('INVALID', 'Unknown credential kind.');
    if (new Set(items.map((i) => i.kind)).size !== items.length) throw new AppError('INVALID', 'One new credential per kind.');
    const owner = ownerId.toLowerCase();
    return items.map((item) => {
      const row = { id: randomUUID(), ownerType, ownerId: owner, kind: item.kind };
      return { id: row.id, owner_id: owner, kind: row.kind, ...sealedWithFingerprint(item.plaintext, credentialAad(row)), expires_at: item.expiresAt?.toISOString() ?? null };
    });
  });
  return {
    rows: JSON.stringify(rows),
    ownerIds: [...new Set(rows.map((r) => r.owner_id))],
    stored: rows.map((r) => ({ id: r.id, ownerId: r.owner_id, kind: r.kind, fingerprint: r.fingerprint })),
  };
}

/**
 * `credentials_new`, `credentials_demoted` and `credentials_stored` CTEs (SQL text) that make sealReplacementCredentials'
 * rows current for their owners and kinds, the old current ones previous. `params` name the
 * statement's parameters holding `rows` (jsonb) and `ownerIds` (uuid[]); no rows, no change. The
 * insert reads the demotion first, so the one-current-per-kind index never holds two; the version
 * subquery sees the table as it was before the statement. The caller must hold the owners' locks
 * (rotation: the registration locks), which these CTEs do not take.
 */
export function replacementCredentialsCtes(ownerType: CredentialOwnerType, params: { rows: string; ownerIds: string }): string {
  if (!CREDENTIAL_OWNERS.includes(ownerType)) throw new AppError('INVALID', `Unknown credential owner type "${String(ownerType)}".`);
  if (![params.rows, params.ownerIds].every((p) => /^\$\d+$/.test(p))) throw new Error('Statement parameters are written $n.');
  return `credentials_new as (
      select * from jsonb_to_recordset(${params.rows}::jsonb) as v(id uuid, owner_id uuid, kind text, fingerprint text, envelope jsonb, expires_at timestamptz)),
    credentials_demoted as (
      update credentials c set state = 'previous'
        from credentials_new d
       -- The owner list lets the planner use an index (it cannot see inside the record set and
       -- would otherwise hash every current credential of every owner).
       where c.owner_type = '${ownerType}' and c.owner_id = d.owner_id and c.kind = d.kind and c.state = 'current'
         and c.owner_id = any(${params.ownerIds}::uuid[])
      returning 1),
    credentials_stored as (
      insert into credentials (id, owner_type, owner_id, kind, state, version, fingerprint, envelope, expires_at)
      select v.id, '${ownerType}', v.owner_id, v.kind, 'current',
             coalesce((select max(c.version) from credentials c where c.owner_type = '${ownerType}' and c.owner_id = v.owner_id and c.kind = v.kind), 0) + 1,
             v.fingerprint, v.envelope, v.expires_at
        from credentials_new v
       where (select count(*) from credentials_demoted) >= 0
      returning id)`;
}

/**
 * A query column holding the owner's current credentials of the given kinds (still sealed), so a
 * caller can read them in the same round trip as the owner; open them with openCurrentCredentials.
 */
export function currentCredentialsColumn(ownerType: CredentialOwnerType, ownerId: SQL | AnyColumn, kinds: readonly CredentialKind[]): SQL<unknown> {
  return sql`(select coalesce(json_agg(json_build_object('id', c.id, 'kind', c.kind, 'envelope', c.envelope, 'fingerprint', c.fingerprint, 'version', c.version, 'expiresAt', c.expires_at, 'createdAt', c.created_at, 'ownerId', c.owner_id)), '[]')
      from ${credentials} c where c.owner_type = ${ownerType} and c.owner_id = ${ownerId} and c.kind in ${[...kinds]} and c.state = 'current')`;
}

/**
 * A query column holding the fingerprint of the owner's current credential of one kind and the id
 * of the key it was made under (nothing to open). That key is the envelope's kid: a row's envelope
 * and fingerprint are always written together under the same key (sealed or re-wrapped by
 * keys:rotate). Compare a value with it by `fingerprintSecret(value, { keyId })`, never under the
 * current key alone: while keys change, the stored fingerprint may be under a previous one.
 */
export function currentFingerprintColumn(ownerType: CredentialOwnerType, ownerId: SQL | AnyColumn, kind: CredentialKind): SQL<StoredFingerprint | null> {
  return sql<StoredFingerprint | null>`(select json_build_object('fingerprint', c.fingerprint, 'keyId', c.envelope->>'kid') from ${credentials} c
      where c.owner_type = ${ownerType} and c.owner_id = ${ownerId} and c.kind = ${kind} and c.state = 'current')`;
}

/** A stored fingerprint and the key id it was made under (currentFingerprintColumn). */
export type StoredFingerprint = { fingerprint: string; keyId: string | null };

export function openCurrentCredentials(ownerType: CredentialOwnerType, value: unknown): Map<CredentialKind, OpenedCredential> {
  const rows = Array.isArray(value) ? (value as Array<{ id: string; kind: CredentialKind; envelope: Envelope; fingerprint: string; version: number; expiresAt: string | null; createdAt: string; ownerId: string }>) : [];
  return new Map(rows.map((r) => [r.kind, openRow({ ...r, ownerType, expiresAt: r.expiresAt ? new Date(r.expiresAt) : null, createdAt: new Date(r.createdAt) })]));
}

/** Retires the owner's current credential of one kind (a setting cleared): kept, sealed, for the audit trail, never used again. */
export async function retireCurrentCredential(tx: DbOrTx, ownerType: CredentialOwnerType, ownerId: string, kind: CredentialKind): Promise<number> {
  if (!isUuid(ownerId)) throw new AppError('INVALID', 'The credential owner id must be a UUID.');
  const retired = await tx
    .update(credentials)
    .set({ state: 'retired', retiredAt: new Date() })
    .where(and(eq(credentials.ownerType, ownerType), eq(credentials.ownerId, ownerId.toLowerCase()), eq(credentials.kind, kind), eq(credentials.state, 'current')))
    .returning({ id: credentials.id });
  return retired.length;
}

/** Makes a stored credential (e.g. one stored with makeCurrent: false and then verified) the current one, demoting the old current. */
export async function promoteCredential(tx: DbOrTx, id: string): Promise<{ id: string; version: number }> {
  if (!isUuid(id)) throw new AppError('NOT_FOUND', 'That credential does not exist.');
  return tx.transaction(async (t) => {
    const [target] = await t
      .select({ ownerType: credentials.ownerType, ownerId: credentials.ownerId, kind: credentials.kind, state: credentials.state, version: credentials.version })
      .from(credentials)
      .where(eq(credentials.id, id));
    if (!target) throw new AppError('NOT_FOUND', 'That credential does not exist.');
    if (target.state === 'retired') throw new AppError('CONFLICT', 'A retired credential cannot be made current again.');
    await t.execute(lockKey(target.ownerType, target.ownerId, target.kind));
    const ownerKind = and(eq(credentials.ownerType, target.ownerType), eq(credentials.ownerId, target.ownerId), eq(credentials.kind, target.kind));
    await t.update(credentials).set({ state: 'previous' }).where(and(ownerKind, eq(credentials.state, 'current')));
    await t.update(credentials).set({ state: 'current', retiredAt: null }).where(eq(credentials.id, id));
    return { id, version: target.version };
  });
}

const openColumns = {
  id: credentials.id,
  ownerType: credentials.ownerType,
  ownerId: credentials.ownerId,
  kind: credentials.kind,
  envelope: credentials.envelope,
  fingerprint: credentials.fingerprint,
  version: credentials.version,
  expiresAt: credentials.expiresAt,
  createdAt: credentials.createdAt,
};

function openRow(row: { id: string; ownerType: string; ownerId: string; kind: CredentialKind; envelope: Envelope; fingerprint: string; version: number; expiresAt: Date | null; createdAt: Date }): OpenedCredential {
  return {
    id: row.id,
    plaintext: openSecret(row.envelope, credentialAad(row)),
    fingerprint: row.fingerprint,
    version: row.version,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
  };
}

/** The owner's current credential of a kind, decrypted; null when there is none. */
export async function readCurrentCredential(tx: DbOrTx, ownerType: CredentialOwnerType, ownerId: string, kind: CredentialKind): Promise<OpenedCredential | null> {
  if (!isUuid(ownerId)) return null;
  const [row] = await tx
    .select(openColumns)
    .from(credentials)
    .where(and(eq(credentials.ownerType, ownerType), eq(credentials.ownerId, ownerId.toLowerCase()), eq(credentials.kind, kind), eq(credentials.state, 'current')))
    .limit(1);
  return row ? openRow(row) : null;
}

/** The current credentials of several kinds of one owner, decrypted, in one query (kinds without one are absent). */
export async function readCurrentCredentials(tx: DbOrTx, ownerType: CredentialOwnerType, ownerId: string, kinds: readonly CredentialKind[]): Promise<Map<CredentialKind, OpenedCredential>> {
  if (!isUuid(ownerId) || kinds.length === 0) return new Map();
  const rows = await tx
    .select(openColumns)
    .from(credentials)
    .where(and(eq(credentials.ownerType, ownerType), eq(credentials.ownerId, ownerId.toLowerCase()), inArray(credentials.kind, [...kinds]), eq(credentials.state, 'current')));
  return new Map(rows.map((row) => [row.kind, openRow(row)]));
}

/** One credential by id, decrypted (any state); null when there is none. */
export async function readCredentialById(tx: DbOrTx, id: string): Promise<OpenedCredential | null> {
  if (!isUuid(id)) return null;
  const [row] = await tx.select(openColumns).from(credentials).where(eq(credentials.id, id.toLowerCase())).limit(1);
  return row ? openRow(row) : null;
}

/** Every credential of an owner, as metadata (never the value, never the envelope). */
export async function listCredentialMeta(tx: DbOrTx, ownerType: CredentialOwnerType, ownerId: string): Promise<CredentialMeta[]> {
  if (!isUuid(ownerId)) return [];
  return tx
    .select({
      id: credentials.id,
      kind: credentials.kind,
      state: credentials.state,
      version: credentials.version,
      fingerprint: credentials.fingerprint,
      expiresAt: credentials.expiresAt,
      createdAt: credentials.createdAt,
      retiredAt: credentials.retiredAt,
      keyId: sql<string>`${credentials.envelope}->>'kid'`,
      keyVersion: sql<number>`(${credentials.envelope}->>'kv')::int`,
    })
    .from(credentials)
    .where(and(eq(credentials.ownerType, ownerType), eq(credentials.ownerId, ownerId.toLowerCase())))
    .orderBy(asc(credentials.kind), desc(credentials.version));
}

// ---------------------------------------------------------------------------------------------
// Key rotation: re-wrap every envelope whose KEK is not the current one.

export type RewrapKeyCount = { keyId: string; keyVersion: number; count: number; configured: boolean };
export type RewrapProgress = { rewrapped: number; failed: number; total: number; batch: number };
export type RewrapResult = {
  toKey: { keyId: string; keyVersion: number };
  /** Rows that needed re-wrapping when the run started (rows under unconfigured keys excluded). */
  total: number;
  rewrapped: number;
  /** Rows that could not be re-wrapped (tampered); they are left as they were. Ids only. */
  failed: Array<{ id: string; code: ErrorCode; message: string }>;
  /** Rows wrapped by keys that are not configured: they cannot be opened or re-wrapped. */
  unconfigured: RewrapKeyCount[];
  /** Rows still not under the current key at the end (failed, unconfigured, or locked by others). */
  remaining: number;
};

const envelopeKid = sql`(${credentials.envelope}->>'kid')`;

function notCurrentKey(kid: string, kv: number): SQL {
  return sql`(${credentials.envelope}->>'kid' is distinct from ${kid} or ${credentials.envelope}->>'kv' is distinct from ${String(kv)})`;
}

/** How many credentials each non-current key still wraps (for `keys:rotate --dry-run`). */
export async function pendingRewrapSummary(db: DbOrTx = getDb()): Promise<{ toKey: { keyId: string; keyVersion: number }; byKey: RewrapKeyCount[]; total: number }> {
  const { kid, kv } = currentKey();
  const byKey = await countByKey(db, kid, kv);
  return { toKey: { keyId: kid, keyVersion: kv }, byKey, total: byKey.reduce((n, k) => n + k.count, 0) };
}

async function countByKey(db: DbOrTx, kid: string, kv: number): Promise<RewrapKeyCount[]> {
  const rows = await db
    .select({
      keyId: sql<string>`${credentials.envelope}->>'kid'`,
      keyVersion: sql<number>`(${credentials.envelope}->>'kv')::int`,
      count: sql<number>`count(*)::int`,
    })
    .from(credentials)
    .where(notCurrentKey(kid, kv))
    .groupBy(sql`1`, sql`2`)
    .orderBy(sql`1`, sql`2`);
  return rows.map((r) => ({ ...r, configured: isKeyConfigured(r.keyId) }));
}

/**
 * Re-wraps, in batches of `batchSize` (each its own transaction, rows locked FOR UPDATE SKIP LOCKED),
 * every credential whose envelope is not under the current KEK, and recomputes its fingerprint
 * under the current key. Idempotent and resumable: finished rows no longer match. One audit row
 * (`vault.rewrap`) per batch, in the batch's transaction. `onProgress` runs after each commit.
 */
export async function rewrapCredentials(
  opts: { batchSize?: number; onProgress?: (progress: RewrapProgress) => void | Promise<void>; actor?: Actor } = {},
): Promise<RewrapResult> {
  const batchSize = opts.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new AppError('INVALID', 'The batch size must be a whole number from 1 to 10000.');
  const actor = opts.actor ?? systemActor('keys:rotate');
  const { kid, kv } = currentKey();
  const toKey = `${kid}@${kv}`;
  const db = getDb();

  const initial = await countByKey(db, kid, kv);
  const unconfigured = initial.filter((k) => !k.configured);
  const skipKids = [...new Set(unconfigured.map((k) => k.keyId))];
  const total = initial.filter((k) => k.configured).reduce((n, k) => n + k.count, 0);
  const failed = new Map<string, { id: string; code: ErrorCode; message: string }>();
  let rewrapped = 0;
  let batch = 0;

  // Usually one pass. Another only when rows were skipped (locked by someone else) or added
  // under an old key meanwhile; bounded so that a writer still using an old key cannot keep us here.
  for (let pass = 0; pass < 3; pass++) {
    let after: string | null = null;
    let passRewrapped = 0;
    for (;;) {
      const step: { selected: number; lastId: string | null; done: number } = await db.transaction(async (tx) => {
        const conditions: SQL[] = [notCurrentKey(kid, kv)];
        if (skipKids.length) conditions.push(notInArray(envelopeKid, skipKids));
        if (failed.size) conditions.push(notInArray(credentials.id, [...failed.keys()]));
        if (after) conditions.push(gt(credentials.id, after));
        const rows = await tx
          .select({ id: credentials.id, ownerType: credentials.ownerType, ownerId: credentials.ownerId, kind: credentials.kind, envelope: credentials.envelope })
          .from(credentials)
          .where(and(...conditions))
          .orderBy(asc(credentials.id))
          .limit(batchSize)
          .for('update', { skipLocked: true });
        if (rows.length === 0) return { selected: 0, lastId: null, done: 0 };

        const updates: Array<{ id: string; envelope: Envelope; fingerprint: string }> = [];
        const fromKeys = new Set<string>();
        for (const row of rows) {
          const aad = credentialAad(row);
          try {
            // Opening first proves the whole envelope is intact before anything is rewritten.
            const plaintext = openSecret(row.envelope, aad);
            const envelope = rewrapEnvelope(row.envelope, aad);
            updates.push({ id: row.id, envelope, fingerprint: fingerprintSecret(plaintext, { keyId: envelope.kid }) });
            fromKeys.add(`${row.envelope.kid}@${row.envelope.kv}`);
          } catch (error) {
            if (!isAppError(error) || (error.code !== 'VAULT_TAMPERED' && error.code !== 'VAULT_LOCKED')) throw error;
            failed.set(row.id, { id: row.id, code: error.code, message: error.message });
          }
        }
        if (updates.length) {
          await tx.execute(sql`
            update ${credentials} as c
               set envelope = v.envelope, fingerprint = v.fingerprint
              from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as v(id uuid, envelope jsonb, fingerprint text)
             where c.id = v.id`);
        }
        const batchFailed = rows.length - updates.length;
        await recordAudit(tx, actor, {
          action: 'vault.rewrap',
          targetType: 'credentials',
          outcome: batchFailed && !updates.length ? 'failure' : 'success',
          details: { count: updates.length, fromKeys: [...fromKeys].sort(), toKey, ...(batchFailed ? { failed: batchFailed } : {}) },
        });
        return { selected: rows.length, lastId: rows[rows.length - 1]!.id, done: updates.length };
      });
      if (step.selected === 0) break;
      after = step.lastId;
      rewrapped += step.done;
      passRewrapped += step.done;
      batch++;
      await opts.onProgress?.({ rewrapped, failed: failed.size, total, batch });
    }
    const [left] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(credentials)
      .where(and(notCurrentKey(kid, kv), skipKids.length ? notInArray(envelopeKid, skipKids) : undefined));
    if ((left?.n ?? 0) <= failed.size || passRewrapped === 0) break;
  }

  const [remaining] = await db.select({ n: sql<number>`count(*)::int` }).from(credentials).where(notCurrentKey(kid, kv));
  return {
    toKey: { keyId: kid, keyVersion: kv },
    total,
    rewrapped,
    failed: [...failed.values()],
    unconfigured,
    remaining: remaining?.n ?? 0,
  };
}

/**
 * The first credentials of an owner created in the same transaction (a new registration): one
 * multi-row insert, version 1, current. Nothing else can hold credentials for an owner that does
 * not exist outside this transaction yet, so there is nothing to lock or demote.
 */
export async function storeInitialCredentials(
  tx: DbOrTx,
  ownerType: CredentialOwnerType,
  ownerId: string,
  items: Array<{ kind: CredentialKind; plaintext: string; expiresAt?: Date | null }>,
): Promise<Array<{ id: string; kind: CredentialKind; fingerprint: string }>> {
  const rows = sealInitialCredentials(ownerType, ownerId, items);
  if (rows.length) await tx.insert(credentials).values(rows);
  return rows.map((r) => ({ id: r.id, kind: r.kind, fingerprint: r.fingerprint }));
}

/**
 * The rows storeInitialCredentials inserts (version 1, current, sealed with the row's AAD), for a
 * caller that writes them inside a larger single statement. The owner must be new: no lock, no demotion.
 */
export function sealInitialCredentials(
  ownerType: CredentialOwnerType,
  ownerId: string,
  items: Array<{ kind: CredentialKind; plaintext: string; expiresAt?: Date | null }>,
): Array<typeof credentials.$inferInsert & { id: string; kind: CredentialKind; fingerprint: string }> {
  if (!isUuid(ownerId)) throw new AppError('INVALID', 'The credential owner id must be a UUID.');
  if (new Set(items.map((i) => i.kind)).size !== items.length) throw new AppError('INVALID', 'One initial credential per kind.');
  return items.map((item) => {
    const row = { id: randomUUID(), ownerType, ownerId: ownerId.toLowerCase(), kind: item.kind };
    return { ...row, state: 'current' as const, version: 1, ...sealedWithFingerprint(item.plaintext, credentialAad(row)), expiresAt: item.expiresAt ?? null };
  });
}
