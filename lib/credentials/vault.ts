import 'server-only';
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Envelope } from '@/db/schema';
import { AppError } from '@/lib/errors';
import { KEY_BYTES, keyFileSignature, loadKeyRing, type KeyRing, type KeyRingState, type RingKey } from './keyring';
import { freshRandomBytes } from './random-pool';

/**
 * Envelope encryption for every stored secret.
 *
 * value    = AES-256-GCM(dataKey, iv, plaintext, AAD = "value" ‖ caller's AAD)
 * wrapped  = AES-256-GCM(KEK, wiv, dataKey,    AAD = "wrap" ‖ kid ‖ kv ‖ caller's AAD)
 *
 * The caller's AAD (the row's identity) is not stored, so an envelope copied to another row, a
 * changed kid/kv, or any flipped bit fails authentication. Nothing here falls back to plaintext.
 */

export type VaultStatus = { status: 'ok' | 'absent' | 'invalid'; keyId: string | null; source: 'env' | 'file' | null; message: string };

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DOMAIN = 'registrar-vault/v1';

type Cache = { state: KeyRingState; fileSignature: string | null; fingerprintKeys: Map<string, KeyObject> };
let cache: Cache | undefined;

function load(): Cache {
  const state = loadKeyRing();
  const file = state.status === 'ok' ? state.ring.file : state.status === 'invalid' ? state.file : null;
  return { state, fileSignature: file ? keyFileSignature(file) : null, fingerprintKeys: new Map() };
}

/**
 * The ring, loaded once. With a key file, `recheck` reloads it when the file changed on disk, so a
 * running server picks up `keys:rotate -- --new-key-file-entry` without a restart.
 */
function ringState(recheck: boolean): KeyRingState {
  if (!cache) {
    cache = load();
  } else if (recheck) {
    const file = cache.state.status === 'ok' ? cache.state.ring.file : cache.state.status === 'invalid' ? cache.state.file : null;
    if (file && keyFileSignature(file) !== cache.fileSignature) cache = load();
  }
  return cache.state;
}

function requireRing(recheck = true): KeyRing {
  const state = ringState(recheck);
  if (state.status !== 'ok') {
    throw new AppError('VAULT_LOCKED', `The credential vault is locked, so secrets cannot be stored or read. ${state.message}`, { vault: state.status });
  }
  return state.ring;
}

/** For /api/health and the UI: whether a usable key is configured. The message never contains key material. */
export function vaultStatus(): VaultStatus {
  const state = ringState(true);
  if (state.status === 'ok') return { status: 'ok', keyId: state.ring.current.kid, source: state.ring.source, message: state.message };
  return { status: state.status, keyId: null, source: state.source, message: state.message };
}

/** The key new envelopes are wrapped with (VAULT_LOCKED without one). */
export function currentKey(): { kid: string; kv: number } {
  const { current } = requireRing();
  return { kid: current.kid, kv: current.version };
}

/** Whether a key with this id is configured (keys:rotate leaves rows under missing keys alone and reports them). */
export function isKeyConfigured(kid: string): boolean {
  const state = ringState(true);
  return state.status === 'ok' && state.ring.keys.has(kid);
}

/** Tests change keys between cases. */
export function resetVaultCache(): void {
  cache = undefined;
}

/** 32 random bytes, base64: a new REGISTRAR_KEY. */
export function generateKeyMaterial(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

// ---------------------------------------------------------------------------------------------

function valueAad(aad: string): Buffer {
  return Buffer.from(`${DOMAIN}/value\n${aad}`, 'utf8');
}

// kid matches [A-Za-z0-9._-] and kv is an integer, so the caller's AAD (last) cannot shift the fields.
function wrapAad(kid: string, kv: number, aad: string): Buffer {
  return Buffer.from(`${DOMAIN}/wrap\n${kid}\n${kv}\n${aad}`, 'utf8');
}

function encrypt(key: KeyObject | Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; ct: Buffer; tag: Buffer } {
  const iv = freshRandomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ct, tag: cipher.getAuthTag() };
}

/** Returns null when authentication fails (never a partial plaintext). */
function decrypt(key: KeyObject | Buffer, iv: Buffer, ct: Buffer, tag: Buffer, aad: Buffer): Buffer | null {
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    return null;
  }
}

function assertAad(aad: string): void {
  if (typeof aad !== 'string' || aad.length === 0) throw new AppError('INVALID', 'The vault needs the record identity (additional authenticated data) to seal or open a secret.');
}

type DecodedEnvelope = { kid: string; kv: number; wk: Buffer; wiv: Buffer; wtag: Buffer; iv: Buffer; tag: Buffer; ct: Buffer };

function decodeEnvelope(envelope: Envelope): DecodedEnvelope {
  const malformed = (what: string) =>
    new AppError('VAULT_TAMPERED', `The stored secret is not a valid envelope (${what}); it was not decrypted.`);
  if (typeof envelope !== 'object' || envelope === null) throw malformed('not an object');
  if (envelope.v !== 1) throw malformed('unknown format version');
  if (typeof envelope.kid !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(envelope.kid)) throw malformed('key id');
  if (typeof envelope.kv !== 'number' || !Number.isSafeInteger(envelope.kv) || envelope.kv < 1) throw malformed('key version');
  const field = (name: 'wk' | 'wiv' | 'wtag' | 'iv' | 'tag' | 'ct', length?: number): Buffer => {
    const text: unknown = envelope[name];
    if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw malformed(name);
    const bytes = Buffer.from(text, 'base64url');
    if (bytes.toString('base64url') !== text || (length !== undefined && bytes.length !== length)) throw malformed(name);
    return bytes;
  };
  return {
    kid: envelope.kid,
    kv: envelope.kv,
    wk: field('wk', KEY_BYTES),
    wiv: field('wiv', IV_BYTES),
    wtag: field('wtag', TAG_BYTES),
    iv: field('iv', IV_BYTES),
    tag: field('tag', TAG_BYTES),
    ct: field('ct'),
  };
}

function keyForEnvelope(decoded: DecodedEnvelope): RingKey {
  // Opening is the hot path (keys:rotate opens every row): only a miss looks at the key file again.
  let ring = requireRing(false);
  let kek = ring.keys.get(decoded.kid);
  if (!kek && ring.source === 'file') {
    ring = requireRing(true);
    kek = ring.keys.get(decoded.kid);
  }
  if (!kek) {
    throw new AppError(
      'VAULT_LOCKED',
      `This secret was encrypted with key ${decoded.kid} (version ${decoded.kv}), which is not configured (the current key is ${ring.current.kid}). Add that key to ${ring.source === 'env' ? 'REGISTRAR_PREVIOUS_KEYS' : 'the key file or REGISTRAR_PREVIOUS_KEYS'} to read it.`,
      { keyId: decoded.kid, keyVersion: decoded.kv },
    );
  }
  return kek;
}

function unwrapDataKey(decoded: DecodedEnvelope, aad: string): Buffer {
  const kek = keyForEnvelope(decoded);
  const dataKey = decrypt(kek.key, decoded.wiv, decoded.wk, decoded.wtag, wrapAad(decoded.kid, decoded.kv, aad));
  if (!dataKey) {
    throw new AppError(
      'VAULT_TAMPERED',
      `The stored secret failed its integrity check and was not decrypted: it was modified, copied from another record, or the configured key ${decoded.kid} is not the key that encrypted it.`,
      { keyId: decoded.kid, keyVersion: decoded.kv },
    );
  }
  return dataKey;
}

function wrapDataKey(dataKey: Buffer, kek: RingKey, aad: string): Pick<Envelope, 'kid' | 'kv' | 'wk' | 'wiv' | 'wtag'> {
  const wrapped = encrypt(kek.key, dataKey, wrapAad(kek.kid, kek.version, aad));
  return { kid: kek.kid, kv: kek.version, wk: wrapped.ct.toString('base64url'), wiv: wrapped.iv.toString('base64url'), wtag: wrapped.tag.toString('base64url') };
}

/** Envelope encryption: a fresh data key per value, wrapped by the current KEK; both bound to `aad` (the record's identity, not stored). */
export function sealSecret(plaintext: string, aad: string): Envelope {
  if (typeof plaintext !== 'string') throw new AppError('INVALID', 'Only text values can be stored in the vault.');
  assertAad(aad);
  const ring = requireRing();
  const dataKey = freshRandomBytes(KEY_BYTES);
  try {
    const value = encrypt(dataKey, Buffer.from(plaintext, 'utf8'), valueAad(aad));
    return {
      v: 1,
      ...wrapDataKey(dataKey, ring.current, aad),
      iv: value.iv.toString('base64url'),
      tag: value.tag.toString('base64url'),
      ct: value.ct.toString('base64url'),
    };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens an envelope sealed for the same `aad`. VAULT_LOCKED: its key is not configured; VAULT_TAMPERED: authentication failed. */
export function openSecret(envelope: Envelope, aad: string): string {
  assertAad(aad);
  const decoded = decodeEnvelope(envelope);
  const dataKey = unwrapDataKey(decoded, aad);
  try {
    const plaintext = decrypt(dataKey, decoded.iv, decoded.ct, decoded.tag, valueAad(aad));
    if (!plaintext) {
      throw new AppError('VAULT_TAMPERED', 'The stored secret failed its integrity check and was not decrypted: its encrypted value was modified or belongs to another record.', {
        keyId: decoded.kid,
        keyVersion: decoded.kv,
      });
    }
    const text = plaintext.toString('utf8');
    plaintext.fill(0);
    return text;
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps the data key under the current KEK (key rotation). The encrypted value (iv, tag, ct) is carried over unchanged. */
export function rewrapEnvelope(envelope: Envelope, aad: string): Envelope {
  assertAad(aad);
  const decoded = decodeEnvelope(envelope);
  const ring = requireRing();
  const dataKey = unwrapDataKey(decoded, aad);
  try {
    return { v: 1, ...wrapDataKey(dataKey, ring.current, aad), iv: envelope.iv, tag: envelope.tag, ct: envelope.ct };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * A keyed fingerprint for display and comparison: HMAC-SHA256 under a key derived (HKDF) from a
 * KEK, so it reveals nothing without the key. Stored fingerprints are made under the KEK that
 * wrapped the row's envelope (the current one when stored; keys:rotate recomputes both together),
 * so a fingerprint changes when the current KEK changes.
 *
 * `keyId`: fingerprint under that configured key instead of the current one — to compare a value
 * with a stored fingerprint, pass the stored row's envelope kid (a fingerprint made under another
 * key never matches, even for the same value). A key id that is not configured (or null) falls
 * back to the current key: such a stored fingerprint cannot be reproduced, so the value compares
 * as different.
 */
export function fingerprintSecret(plaintext: string, opts: { keyId?: string | null } = {}): string {
  if (typeof plaintext !== 'string') throw new AppError('INVALID', 'Only text values can be fingerprinted.');
  const ring = requireRing();
  const kek = (opts.keyId ? ring.keys.get(opts.keyId) : undefined) ?? ring.current;
  const keys = cache!.fingerprintKeys;
  let key = keys.get(kek.kid);
  if (!key) {
    key = createSecretKey(Buffer.from(hkdfSync('sha256', kek.key, Buffer.alloc(0), `${DOMAIN}/fingerprint`, 32)));
    keys.set(kek.kid, key);
  }
  return `fp_${createHmac('sha256', key).update(plaintext, 'utf8').digest('hex').slice(0, 16)}`;
}
