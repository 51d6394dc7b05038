import 'server-only';
import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, writeTemp } from '@/lib/durable-file';
import { env } from '@/lib/env';
import { AppError } from '@/lib/errors';

/**
 * The key-encryption keys (KEKs) of the credential vault.
 *
 * Sources, in order: REGISTRAR_KEY (one base64 key, version 1) or REGISTRAR_KEY_FILE (a JSON key
 * ring). REGISTRAR_PREVIOUS_KEYS adds decrypt-only keys to either. Nothing here ever generates a
 * key implicitly: a missing or broken configuration is reported, never papered over.
 */

export type KeySource = 'env' | 'file';

/** One KEK. The key itself is a KeyObject so that logging a ring never prints key material. */
export type RingKey = { kid: string; version: number; key: KeyObject };

export type KeyRing = {
  source: KeySource;
  /** The key new envelopes are wrapped with. */
  current: RingKey;
  /** Every key that may unwrap, by kid (the current one included). */
  keys: ReadonlyMap<string, RingKey>;
  /** Absolute path of the key file when source is 'file'. */
  file: string | null;
  /** Plain-language notes for the status message (never key material). */
  notes: string[];
};

export type KeyRingState =
  | { status: 'ok'; ring: KeyRing; message: string }
  | { status: 'absent'; source: null; message: string }
  | { status: 'invalid'; source: KeySource | null; file: string | null; message: string };

/** The key file as written on disk (0600). */
export type KeyFile = {
  current: string;
  keys: Array<{ kid: string; version: number; key: string; createdAt: string }>;
};

export const KEY_BYTES = 32;
const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const GENERATE_HINT = 'generate one with `openssl rand -base64 32`';

/** A configuration problem whose message is safe to show (it never contains key material). */
class KeyConfigError extends Error {}

/** Key id = a hash of the key (domain-separated), so the same key has the same id wherever it is configured. */
export function deriveKeyId(key: Buffer): string {
  return `kek-${createHash('sha256').update('registrar-vault/v1/key-id\n').update(key).digest('hex').slice(0, 16)}`;
}

/** Decodes one base64 (or base64url) key of exactly 32 bytes; the error never echoes the value. */
export function parseKeyMaterial(value: string, label: string): Buffer {
  const text = value.trim();
  if (text === '') throw new KeyConfigError(`${label} is empty`);
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new KeyConfigError(`${label} looks like hex; it must be base64 of 32 bytes (${GENERATE_HINT})`);
  }
  const isBase64 = /^[A-Za-z0-9+/]+={0,2}$/.test(text);
  const isBase64Url = /^[A-Za-z0-9_-]+={0,2}$/.test(text);
  if (!isBase64 && !isBase64Url) throw new KeyConfigError(`${label} is not valid base64 (${GENERATE_HINT})`);
  const bytes = Buffer.from(text, isBase64 ? 'base64' : 'base64url');
  // Node's decoder ignores stray bits; a canonical re-encoding catches truncated or padded-wrong input.
  const canonical = bytes.toString(isBase64 ? 'base64' : 'base64url').replace(/=+$/, '');
  if (canonical !== text.replace(/=+$/, '')) throw new KeyConfigError(`${label} is not valid base64 (${GENERATE_HINT})`);
  if (bytes.length !== KEY_BYTES) {
    throw new KeyConfigError(`${label} decodes to ${bytes.length} bytes; it must be exactly ${KEY_BYTES} (${GENERATE_HINT})`);
  }
  return bytes;
}

function ringKey(kid: string, version: number, material: Buffer): RingKey {
  const key = createSecretKey(material);
  material.fill(0);
  return { kid, version, key };
}

/** Reads and validates a key file. Throws a KeyConfigError with a safe message. */
function readKeyFileStrict(file: string): KeyFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KeyConfigError(`the key file ${file} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new KeyConfigError(`the key file ${file} is not readable by this process`);
    throw new KeyConfigError(`the key file ${file} could not be read (${code ?? 'error'})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the text, which holds keys: never pass it on.
    throw new KeyConfigError(`the key file ${file} is not valid JSON`);
  }
  return validateKeyFile(data, file);
}

function validateKeyFile(data: unknown, file: string): KeyFile {
  const where = `the key file ${file}`;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new KeyConfigError(`${where} must hold a JSON object`);
  const obj = data as Record<string, unknown>;
  if (typeof obj.current !== 'string') throw new KeyConfigError(`${where} has no "current" key id`);
  if (!Array.isArray(obj.keys) || obj.keys.length === 0) throw new KeyConfigError(`${where} has no "keys"`);
  const keys: KeyFile['keys'] = [];
  const kids = new Set<string>();
  const versions = new Set<number>();
  obj.keys.forEach((entry: unknown, i: number) => {
    const at = `${where}, keys[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new KeyConfigError(`${at} is not an object`);
    const e = entry as Record<string, unknown>;
    if (typeof e.kid !== 'string' || !KID_PATTERN.test(e.kid)) throw new KeyConfigError(`${at} has a missing or invalid "kid" (letters, digits, . _ -)`);
    if (typeof e.version !== 'number' || !Number.isSafeInteger(e.version) || e.version < 1) throw new KeyConfigError(`${at} (${e.kid}) has a missing or invalid "version"`);
    if (typeof e.key !== 'string') throw new KeyConfigError(`${at} (${e.kid}) has no "key"`);
    parseKeyMaterial(e.key, `${at} (${e.kid}) "key"`).fill(0);
    if (kids.has(e.kid)) throw new KeyConfigError(`${where} lists key ${e.kid} twice`);
    if (versions.has(e.version)) throw new KeyConfigError(`${where} lists version ${e.version} twice`);
    kids.add(e.kid);
    versions.add(e.version);
    keys.push({ kid: e.kid, version: e.version, key: e.key, createdAt: typeof e.createdAt === 'string' ? e.createdAt : '' });
  });
  if (!kids.has(obj.current)) throw new KeyConfigError(`${where} names current key ${obj.current}, which it does not contain`);
  return { current: obj.current, keys };
}

function parsePreviousKeys(raw: string | undefined): RingKey[] {
  if (!raw || raw.trim() === '') return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s, i) => {
      const material = parseKeyMaterial(s, `REGISTRAR_PREVIOUS_KEYS entry ${i + 1}`);
      return ringKey(deriveKeyId(material), 1, material);
    });
}

function addDecryptOnly(keys: Map<string, RingKey>, extra: RingKey[]): number {
  let added = 0;
  for (const k of extra) {
    // Same id = same key material (the id is its hash); a key listed twice is harmless.
    if (keys.has(k.kid)) continue;
    keys.set(k.kid, k);
    added++;
  }
  return added;
}

/** Builds the ring from the environment. Never throws: problems come back as 'absent' or 'invalid'. */
export function loadKeyRing(): KeyRingState {
  const e = env();
  const inline = e.REGISTRAR_KEY?.trim() ? e.REGISTRAR_KEY : undefined;
  const fileSetting = e.REGISTRAR_KEY_FILE?.trim() ? e.REGISTRAR_KEY_FILE.trim() : undefined;
  const hasPrevious = Boolean(e.REGISTRAR_PREVIOUS_KEYS?.trim());

  if (inline !== undefined) {
    try {
      const material = parseKeyMaterial(inline, 'REGISTRAR_KEY');
      const current = ringKey(deriveKeyId(material), 1, material);
      const keys = new Map<string, RingKey>([[current.kid, current]]);
      const previous = addDecryptOnly(keys, parsePreviousKeys(e.REGISTRAR_PREVIOUS_KEYS));
      const notes: string[] = [];
      if (previous > 0) notes.push(`${previous} previous key${previous === 1 ? '' : 's'} from REGISTRAR_PREVIOUS_KEYS can still decrypt`);
      if (fileSetting) notes.push('REGISTRAR_KEY_FILE is ignored because REGISTRAR_KEY is set');
      const ring: KeyRing = { source: 'env', current, keys, file: null, notes };
      return { status: 'ok', ring, message: okMessage(ring) };
    } catch (error) {
      return { status: 'invalid', source: 'env', file: null, message: safeMessage(error) };
    }
  }

  if (fileSetting !== undefined) {
    const file = path.resolve(fileSetting);
    try {
      const data = readKeyFileStrict(file);
      const keys = new Map<string, RingKey>();
      for (const k of data.keys) keys.set(k.kid, ringKey(k.kid, k.version, parseKeyMaterial(k.key, k.kid)));
      const current = keys.get(data.current);
      if (!current) throw new KeyConfigError(`the key file ${file} names a current key it does not contain`);
      const previous = addDecryptOnly(keys, parsePreviousKeys(e.REGISTRAR_PREVIOUS_KEYS));
      const notes: string[] = [];
      if (data.keys.length > 1) notes.push(`${data.keys.length - 1} older key${data.keys.length === 2 ? '' : 's'} in the file can still decrypt`);
      if (previous > 0) notes.push(`${previous} previous key${previous === 1 ? '' : 's'} from REGISTRAR_PREVIOUS_KEYS can still decrypt`);
      const loose = looseFilePermissions(file);
      if (loose) notes.push(`warning: ${loose}`);
      const ring: KeyRing = { source: 'file', current, keys, file, notes };
      return { status: 'ok', ring, message: okMessage(ring) };
    } catch (error) {
      return { status: 'invalid', source: 'file', file, message: safeMessage(error) };
    }
  }

  if (hasPrevious) {
    return {
      status: 'invalid',
      source: null,
      file: null,
      message: 'REGISTRAR_PREVIOUS_KEYS is set but there is no current key: set REGISTRAR_KEY or REGISTRAR_KEY_FILE as well.',
    };
  }
  return {
    status: 'absent',
    source: null,
    message:
      'No encryption key is configured. Set REGISTRAR_KEY (base64 of 32 random bytes: `openssl rand -base64 32`) or REGISTRAR_KEY_FILE (a key file, e.g. from `npm run keys:rotate -- --new-key-file-entry`).',
  };
}

function okMessage(ring: KeyRing): string {
  const from = ring.source === 'env' ? 'REGISTRAR_KEY' : `key file ${ring.file}`;
  const base = `Encryption key ${ring.current.kid} (version ${ring.current.version}) from ${from}.`;
  return ring.notes.length ? `${base} ${ring.notes.map((n) => n[0]!.toUpperCase() + n.slice(1)).join('. ')}.` : base;
}

function safeMessage(error: unknown): string {
  if (error instanceof KeyConfigError) return `${error.message[0]!.toUpperCase()}${error.message.slice(1)}.`;
  // Anything else is a bug; its message might quote input, so it is not passed on.
  return 'The encryption key configuration could not be read.';
}

function looseFilePermissions(file: string): string | null {
  if (process.platform === 'win32') return null;
  try {
    const mode = fs.statSync(file).mode & 0o777;
    return mode & 0o007 ? `the key file is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${file}` : null;
  } catch {
    return null;
  }
}

/** Changes when the key file is replaced or edited; null when it cannot be stat'ed. */
export function keyFileSignature(file: string): string | null {
  try {
    const st = fs.statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing key files (keys:rotate, npm run demo). Every write is atomic and never overwrites keys.

function newFileEntry(version: number): KeyFile['keys'][number] {
  const material = randomBytes(KEY_BYTES);
  const entry = { kid: deriveKeyId(material), version, key: material.toString('base64'), createdAt: new Date().toISOString() };
  material.fill(0);
  return entry;
}

function serialise(data: KeyFile): string {
  return JSON.stringify(data, null, 2) + '\n';
}

/** Creates a new key ring file with one key. Refuses to overwrite an existing file: that would orphan every secret under it. */
export function createKeyFile(file: string): { path: string; kid: string; version: number } {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  if (fs.existsSync(target)) {
    throw new AppError('CONFLICT', `The key file ${target} already exists; it was left unchanged. Use \`npm run keys:rotate -- --new-key-file-entry\` to add a key.`);
  }
  const entry = newFileEntry(1);
  const tmp = writeTemp(target, serialise({ current: entry.kid, keys: [entry] }), 0o600);
  try {
    // link() fails if the target appeared meanwhile, so a concurrent creator's keys are never replaced.
    fs.linkSync(tmp, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AppError('CONFLICT', `The key file ${target} already exists; it was left unchanged.`);
    }
    throw error;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  fsyncDir(path.dirname(target));
  return { path: target, kid: entry.kid, version: entry.version };
}

/**
 * Appends a new key to an existing key file and makes it current; older keys stay so that
 * everything they wrapped can still be opened (and re-wrapped by keys:rotate).
 */
export function addKeyToFile(file: string): { path: string; kid: string; version: number; previous: string[] } {
  const target = path.resolve(file);
  const lock = `${target}.lock`;
  try {
    fs.writeFileSync(lock, `${process.pid} ${new Date().toISOString()}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AppError('CONFLICT', `Another process is changing the key file (${lock} exists). If none is running, delete that lock file and try again.`);
    }
    throw error;
  }
  try {
    let data: KeyFile;
    try {
      data = readKeyFileStrict(target);
    } catch (error) {
      throw new AppError('MISCONFIGURED', `Cannot add a key: ${safeMessage(error)}`);
    }
    const st = fs.statSync(target);
    const entry = newFileEntry(Math.max(...data.keys.map((k) => k.version)) + 1);
    const next: KeyFile = { current: entry.kid, keys: [...data.keys, entry] };
    // Keep whatever group access the app's user relies on, but never widen to other users.
    const mode = (st.mode & 0o060) | 0o600;
    const tmp = writeTemp(target, serialise(next), mode);
    try {
      if (process.platform !== 'win32' && (st.uid !== process.getuid?.() || st.gid !== process.getgid?.())) {
        try {
          fs.chownSync(tmp, st.uid, st.gid);
        } catch {
          throw new AppError('MISCONFIGURED', `Cannot keep the owner of ${target} (uid ${st.uid}); run this as that user. The key file was left unchanged.`);
        }
      }
      fs.renameSync(tmp, target);
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      throw error;
    }
    fsyncDir(path.dirname(target));
    return { path: target, kid: entry.kid, version: entry.version, previous: data.keys.map((k) => k.kid) };
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * For `npm run demo`: `<dataDir>/registrar.key`, created with one key when missing. An existing
 * file is never replaced; if it is unreadable or malformed this throws instead.
 */
export function ensureDemoKeyFile(dataDir: string): string {
  const target = path.resolve(dataDir, 'registrar.key');
  if (!fs.existsSync(target)) {
    try {
      createKeyFile(target);
    } catch (error) {
      // Another process created it first: use theirs.
      if (!(error instanceof AppError && error.code === 'CONFLICT')) throw error;
    }
  }
  try {
    readKeyFileStrict(target);
  } catch (error) {
    throw new AppError('MISCONFIGURED', `${safeMessage(error)} Fix or move it; it is never overwritten.`);
  }
  return target;
}
