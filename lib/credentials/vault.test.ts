import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Envelope } from '@/db/schema';
import { AppError, isAppError } from '@/lib/errors';
import { addKeyToFile, createKeyFile, deriveKeyId, ensureDemoKeyFile } from './keyring';
import { fingerprintSecret, generateKeyMaterial, openSecret, resetVaultCache, rewrapEnvelope, sealSecret, vaultStatus } from './vault';
import { currentVaultKeys, setVaultKeys } from '@/test/support/vault-keys';

const saved = currentVaultKeys();
const configureKeys = setVaultKeys;

afterAll(() => configureKeys(saved));

const SECRET = 'canary-client-secret-9f3b2c';
const AAD = 'credential:00000000-0000-4000-8000-000000000001:client_secret:registration:00000000-0000-4000-8000-000000000002';

function caught(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    if (!isAppError(error)) throw error;
    // No error may carry the plaintext, whatever went wrong.
    const text = `${error.message} ${JSON.stringify(error.details ?? {})} ${String(error.stack)}`;
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('ünïcødé');
    return error;
  }
  throw new Error('expected an AppError, nothing was thrown');
}

function flip(b64url: string, index = 0): string {
  const bytes = Buffer.from(b64url, 'base64url');
  bytes[index % bytes.length] = bytes[index % bytes.length]! ^ 0x01;
  return bytes.toString('base64url');
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-vault-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('sealSecret / openSecret', () => {
  it('round-trips text, including empty, unicode and large values', () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    for (const value of [SECRET, '', 'ünïcødé 🔑 секрет', 'x'.repeat(200_000)]) {
      expect(openSecret(sealSecret(value, AAD), AAD)).toBe(value);
    }
  });

  it('produces an Envelope of base64url fields that does not contain the plaintext', () => {
    const key = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: key });
    const envelope = sealSecret(SECRET, AAD);
    expect(Object.keys(envelope).sort()).toEqual(['ct', 'iv', 'kid', 'kv', 'tag', 'v', 'wiv', 'wk', 'wtag']);
    expect(envelope).toMatchObject({ v: 1, kid: deriveKeyId(Buffer.from(key, 'base64')), kv: 1 });
    for (const f of ['wk', 'wiv', 'wtag', 'iv', 'tag', 'ct'] as const) expect(envelope[f]).toMatch(/^[A-Za-z0-9_-]+$/);
    const text = JSON.stringify(envelope);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(Buffer.from(SECRET).toString('base64url'));
    expect(text).not.toContain(key);
    expect(text).not.toContain(AAD); // the AAD is supplied by the row, never stored
  });

  it('never produces the same envelope twice for the same plaintext', () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const envelopes = Array.from({ length: 200 }, () => sealSecret(SECRET, AAD));
    for (const f of ['wk', 'wiv', 'iv', 'ct'] as const) expect(new Set(envelopes.map((e) => e[f])).size).toBe(200);
  });

  it.each(['ct', 'tag', 'iv', 'wk', 'wtag', 'wiv'] as const)('reports VAULT_TAMPERED when %s is modified', (field) => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const envelope = sealSecret(SECRET, AAD);
    for (const index of [0, 7, 1000]) {
      const error = caught(() => openSecret({ ...envelope, [field]: flip(envelope[field], index) }, AAD));
      expect(error.code).toBe('VAULT_TAMPERED');
      expect(error.message).toMatch(/integrity check|not a valid envelope/);
    }
  });

  it('reports VAULT_TAMPERED when the key version or format fields are changed or garbled', () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const envelope = sealSecret(SECRET, AAD);
    const variants: unknown[] = [
      { ...envelope, kv: 2 },
      { ...envelope, v: 2 },
      { ...envelope, ct: `${envelope.ct}A` },
      { ...envelope, tag: envelope.tag.slice(0, 10) },
      { ...envelope, wk: `${envelope.wk}==` },
      { ...envelope, iv: undefined },
      null,
      'not an envelope',
    ];
    for (const v of variants) expect(caught(() => openSecret(v as Envelope, AAD)).code).toBe('VAULT_TAMPERED');
  });

  it('reports VAULT_TAMPERED for an envelope copied to another row (different AAD)', () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const envelope = sealSecret(SECRET, AAD);
    for (const other of [AAD.replace('client_secret', 'registration_access_token'), AAD.replace(/0002$/, '0003'), `${AAD} `, AAD.slice(0, -1)]) {
      const error = caught(() => openSecret(envelope, other));
      expect(error.code).toBe('VAULT_TAMPERED');
      expect(error.message).toContain('copied from another record');
    }
  });

  it('says which key is missing when the envelope was sealed under a key that is not configured', () => {
    const a = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: a });
    const envelope = sealSecret(SECRET, AAD);
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const error = caught(() => openSecret(envelope, AAD));
    expect(error.code).toBe('VAULT_LOCKED');
    expect(error.message).toContain(`encrypted with key ${envelope.kid}`);
    expect(error.message).toContain('not configured');
    expect(error.message).toContain('REGISTRAR_PREVIOUS_KEYS');
    // ...and the old key in REGISTRAR_PREVIOUS_KEYS opens it again.
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial(), REGISTRAR_PREVIOUS_KEYS: ` ${generateKeyMaterial()}, ${a} ` });
    expect(openSecret(envelope, AAD)).toBe(SECRET);
  });

  it('reports VAULT_TAMPERED when a different key is configured under the same key id', () => {
    const file = path.join(tmp, 'ring.json');
    const ring = (key: string) => JSON.stringify({ current: 'main', keys: [{ kid: 'main', version: 1, key, createdAt: '2026-01-01T00:00:00Z' }] });
    fs.writeFileSync(file, ring(generateKeyMaterial()), { mode: 0o600 });
    configureKeys({ REGISTRAR_KEY_FILE: file });
    const envelope = sealSecret(SECRET, AAD);
    fs.writeFileSync(file, ring(generateKeyMaterial()), { mode: 0o600 });
    resetVaultCache();
    const error = caught(() => openSecret(envelope, AAD));
    expect(error.code).toBe('VAULT_TAMPERED');
    expect(error.message).toContain('configured key main is not the key that encrypted it');
  });

  it('refuses to seal, open or fingerprint without a key (VAULT_LOCKED, no plaintext fallback)', () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    const envelope = sealSecret(SECRET, AAD);
    configureKeys({});
    const sealError = caught(() => sealSecret(SECRET, AAD));
    expect(sealError.code).toBe('VAULT_LOCKED');
    expect(sealError.message).toMatch(/Set REGISTRAR_KEY .* or REGISTRAR_KEY_FILE/);
    expect(caught(() => openSecret(envelope, AAD)).code).toBe('VAULT_LOCKED');
    expect(caught(() => fingerprintSecret(SECRET)).code).toBe('VAULT_LOCKED');
    expect(caught(() => rewrapEnvelope(envelope, AAD)).code).toBe('VAULT_LOCKED');
  });

  it('refuses to seal with an invalid key and says why', () => {
    configureKeys({ REGISTRAR_KEY: 'c2hvcnQ=' });
    const error = caught(() => sealSecret(SECRET, AAD));
    expect(error.code).toBe('VAULT_LOCKED');
    expect(error.message).toContain('REGISTRAR_KEY decodes to 5 bytes; it must be exactly 32');
  });

  it('refuses an empty AAD', () => {
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    expect(caught(() => sealSecret(SECRET, '')).code).toBe('INVALID');
  });
});

describe('vaultStatus', () => {
  it('is absent with no key configured, and says what to set', () => {
    configureKeys({});
    expect(vaultStatus()).toMatchObject({ status: 'absent', keyId: null, source: null });
    expect(vaultStatus().message).toMatch(/REGISTRAR_KEY.*REGISTRAR_KEY_FILE/);
  });

  it.each([
    ['not base64', { REGISTRAR_KEY: 'this is not base64!' }, /REGISTRAR_KEY is not valid base64/],
    ['16 bytes', { REGISTRAR_KEY: Buffer.alloc(16, 7).toString('base64') }, /REGISTRAR_KEY decodes to 16 bytes; it must be exactly 32/],
    ['33 bytes', { REGISTRAR_KEY: Buffer.alloc(33, 7).toString('base64') }, /decodes to 33 bytes/],
    ['hex', { REGISTRAR_KEY: 'ab'.repeat(32) }, /looks like hex/],
    ['bad previous key', { REGISTRAR_KEY: Buffer.alloc(32, 1).toString('base64'), REGISTRAR_PREVIOUS_KEYS: 'nope' }, /REGISTRAR_PREVIOUS_KEYS entry 1/],
    ['previous keys alone', { REGISTRAR_PREVIOUS_KEYS: Buffer.alloc(32, 1).toString('base64') }, /no current key/],
    ['missing file', { REGISTRAR_KEY_FILE: '/nonexistent/registrar.key' }, /does not exist/],
  ])('is invalid for %s', (_name, vars, message) => {
    configureKeys(vars);
    const status = vaultStatus();
    expect(status).toMatchObject({ status: 'invalid', keyId: null });
    expect(status.message).toMatch(message);
    expect(caught(() => sealSecret(SECRET, AAD)).code).toBe('VAULT_LOCKED');
  });

  it('is invalid for a malformed key file, without quoting its contents', () => {
    const key = generateKeyMaterial();
    const cases: Array<[string, RegExp]> = [
      [`{"current": "a", "keys": [{"kid": "a", "version": 1, "key": "${key}"`, /not valid JSON/],
      [JSON.stringify({ current: 'b', keys: [{ kid: 'a', version: 1, key }] }), /current key b, which it does not contain/],
      [JSON.stringify({ current: 'a', keys: [{ kid: 'a', version: 1, key: key.slice(4) }] }), /keys\[0\] \(a\) "key"/],
      [JSON.stringify({ current: 'a', keys: [{ kid: 'a', version: 1, key }, { kid: 'a', version: 2, key }] }), /lists key a twice/],
      [JSON.stringify({ current: 'a', keys: [] }), /has no "keys"/],
    ];
    for (const [content, message] of cases) {
      const file = path.join(tmp, `ring-${Math.random()}.json`);
      fs.writeFileSync(file, content, { mode: 0o600 });
      configureKeys({ REGISTRAR_KEY_FILE: file });
      const status = vaultStatus();
      expect(status).toMatchObject({ status: 'invalid', source: 'file' });
      expect(status.message).toMatch(message);
      expect(status.message).not.toContain(key);
      expect(status.message).not.toContain(key.slice(4, 20));
    }
  });

  it('is ok with a key from the environment, and never shows the key', () => {
    const key = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: key });
    const status = vaultStatus();
    expect(status).toEqual({ status: 'ok', keyId: deriveKeyId(Buffer.from(key, 'base64')), source: 'env', message: expect.stringContaining('REGISTRAR_KEY') });
    expect(JSON.stringify(status)).not.toContain(key);
  });

  it('is ok with a key file, and prefers REGISTRAR_KEY when both are set', () => {
    const file = createKeyFile(path.join(tmp, 'registrar.key'));
    configureKeys({ REGISTRAR_KEY_FILE: file.path });
    expect(vaultStatus()).toMatchObject({ status: 'ok', keyId: file.kid, source: 'file' });
    const key = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: key, REGISTRAR_KEY_FILE: file.path });
    expect(vaultStatus()).toMatchObject({ status: 'ok', source: 'env', keyId: deriveKeyId(Buffer.from(key, 'base64')) });
    expect(vaultStatus().message).toContain('REGISTRAR_KEY_FILE is ignored');
  });
});

describe('fingerprintSecret', () => {
  it('is a keyed, stable, short fingerprint that changes with the key', () => {
    const a = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: a });
    const fp = fingerprintSecret(SECRET);
    expect(fp).toMatch(/^fp_[0-9a-f]{16}$/);
    expect(fingerprintSecret(SECRET)).toBe(fp);
    expect(fingerprintSecret(`${SECRET}x`)).not.toBe(fp);
    // Not a plain hash of the value: without the key it cannot be recomputed.
    expect(fp.slice(3)).not.toBe(createHash('sha256').update(SECRET).digest('hex').slice(0, 16));
    configureKeys({ REGISTRAR_KEY: a });
    expect(fingerprintSecret(SECRET)).toBe(fp);
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial() });
    expect(fingerprintSecret(SECRET)).not.toBe(fp);
  });

  it('with a key id, fingerprints under that configured key (a previous one too), so a value compares equal to its fingerprint stored before the current key changed', () => {
    const a = generateKeyMaterial();
    const b = generateKeyMaterial();
    const kidA = deriveKeyId(Buffer.from(a, 'base64'));
    const kidB = deriveKeyId(Buffer.from(b, 'base64'));
    configureKeys({ REGISTRAR_KEY: a });
    const underA = fingerprintSecret(SECRET);
    expect(fingerprintSecret(SECRET, { keyId: kidA })).toBe(underA);

    // B is current now, A only in REGISTRAR_PREVIOUS_KEYS: the default moves to B, keyId A still reproduces A's.
    configureKeys({ REGISTRAR_KEY: b, REGISTRAR_PREVIOUS_KEYS: a });
    const underB = fingerprintSecret(SECRET);
    expect(underB).not.toBe(underA);
    expect(fingerprintSecret(SECRET, { keyId: kidA })).toBe(underA);
    expect(fingerprintSecret(`${SECRET}x`, { keyId: kidA })).not.toBe(underA);
    expect(fingerprintSecret(SECRET, { keyId: kidB })).toBe(underB);
    // The fingerprint of a row sealed under B is made under B (the key of its envelope).
    expect(fingerprintSecret(SECRET, { keyId: sealSecret(SECRET, AAD).kid })).toBe(underB);

    // No key id, or one that is not configured: the current key (such a fingerprint cannot be reproduced).
    expect(fingerprintSecret(SECRET, { keyId: null })).toBe(underB);
    expect(fingerprintSecret(SECRET, { keyId: 'kek-0000000000000000' })).toBe(underB);
    configureKeys({ REGISTRAR_KEY: b });
    expect(fingerprintSecret(SECRET, { keyId: kidA })).toBe(underB);

    // A key file's keys by their kid, as written by keys:rotate -- --new-key-file-entry.
    const file = createKeyFile(path.join(tmp, 'keys.json'));
    configureKeys({ REGISTRAR_KEY_FILE: file.path });
    const underFirst = fingerprintSecret(SECRET);
    const added = addKeyToFile(file.path);
    resetVaultCache();
    expect(fingerprintSecret(SECRET)).not.toBe(underFirst);
    expect(fingerprintSecret(SECRET, { keyId: file.kid })).toBe(underFirst);
    expect(fingerprintSecret(SECRET, { keyId: added.kid })).toBe(fingerprintSecret(SECRET));
  });
});

describe('rewrapEnvelope', () => {
  it('moves the data key to the current key and leaves the encrypted value untouched', () => {
    const a = generateKeyMaterial();
    const b = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: a });
    const sealed = sealSecret(SECRET, AAD);
    configureKeys({ REGISTRAR_KEY: b, REGISTRAR_PREVIOUS_KEYS: a });
    const rewrapped = rewrapEnvelope(sealed, AAD);
    expect(rewrapped.kid).toBe(deriveKeyId(Buffer.from(b, 'base64')));
    expect(rewrapped.kid).not.toBe(sealed.kid);
    expect({ iv: rewrapped.iv, tag: rewrapped.tag, ct: rewrapped.ct }).toEqual({ iv: sealed.iv, tag: sealed.tag, ct: sealed.ct });
    expect(rewrapped.wk).not.toBe(sealed.wk);
    // Opens with the new key alone.
    configureKeys({ REGISTRAR_KEY: b });
    expect(openSecret(rewrapped, AAD)).toBe(SECRET);
    expect(caught(() => openSecret(sealed, AAD)).code).toBe('VAULT_LOCKED');
  });

  it('refuses to rewrap for another row (different AAD)', () => {
    const a = generateKeyMaterial();
    configureKeys({ REGISTRAR_KEY: a });
    const sealed = sealSecret(SECRET, AAD);
    configureKeys({ REGISTRAR_KEY: generateKeyMaterial(), REGISTRAR_PREVIOUS_KEYS: a });
    expect(caught(() => rewrapEnvelope(sealed, `${AAD}x`)).code).toBe('VAULT_TAMPERED');
  });
});

describe('key files', () => {
  it('creates a 0600 ring with one key and refuses to overwrite it', () => {
    const file = path.join(tmp, 'sub', 'registrar.key');
    const created = createKeyFile(file);
    expect(created).toMatchObject({ path: file, version: 1 });
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const ring = JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string; keys: Array<{ kid: string; version: number; key: string; createdAt: string }> };
    expect(ring.current).toBe(created.kid);
    expect(ring.keys).toHaveLength(1);
    expect(Buffer.from(ring.keys[0]!.key, 'base64')).toHaveLength(32);
    expect(ring.keys[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const before = fs.readFileSync(file, 'utf8');
    expect(caught(() => createKeyFile(file)).code).toBe('CONFLICT');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('adds a key, makes it current, keeps the old ones, and a running vault picks it up', () => {
    const file = createKeyFile(path.join(tmp, 'registrar.key'));
    configureKeys({ REGISTRAR_KEY_FILE: file.path });
    const old = sealSecret(SECRET, AAD);
    const added = addKeyToFile(file.path);
    expect(added).toMatchObject({ version: 2, previous: [file.kid] });
    if (process.platform !== 'win32') expect(fs.statSync(file.path).mode & 0o777).toBe(0o600);
    // No resetVaultCache: the changed file is noticed.
    expect(vaultStatus()).toMatchObject({ status: 'ok', keyId: added.kid });
    const fresh = sealSecret(SECRET, AAD);
    expect(fresh).toMatchObject({ kid: added.kid, kv: 2 });
    expect(openSecret(old, AAD)).toBe(SECRET);
    expect(openSecret(fresh, AAD)).toBe(SECRET);
    expect(openSecret(rewrapEnvelope(old, AAD), AAD)).toBe(SECRET);
    expect(fs.readdirSync(tmp)).toEqual(['registrar.key']); // no temp or lock files left behind
  });

  it('opens an envelope under a key added since this process loaded the ring', () => {
    const file = createKeyFile(path.join(tmp, 'registrar.key'));
    const oldRing = fs.readFileSync(file.path, 'utf8');
    configureKeys({ REGISTRAR_KEY_FILE: file.path });
    addKeyToFile(file.path);
    const newRing = fs.readFileSync(file.path, 'utf8');
    const sealedUnderNewKey = sealSecret(SECRET, AAD);
    // This process goes back to the old ring (as a server started before the rotation would have)...
    fs.writeFileSync(file.path, oldRing);
    expect(vaultStatus().keyId).toBe(file.kid);
    // ...then the rotation lands on disk; opening notices the unknown key id and reloads.
    fs.writeFileSync(file.path, newRing);
    expect(openSecret(sealedUnderNewKey, AAD)).toBe(SECRET);
  });

  it('refuses to add a key while another rotation holds the lock', () => {
    const file = createKeyFile(path.join(tmp, 'registrar.key'));
    fs.writeFileSync(`${file.path}.lock`, '1 test\n');
    const before = fs.readFileSync(file.path, 'utf8');
    const error = caught(() => addKeyToFile(file.path));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toContain('.lock');
    expect(fs.readFileSync(file.path, 'utf8')).toBe(before);
  });

  it('refuses to add a key to a broken file and leaves it as it was', () => {
    const file = path.join(tmp, 'registrar.key');
    fs.writeFileSync(file, '{"current":', { mode: 0o600 });
    expect(caught(() => addKeyToFile(file)).code).toBe('MISCONFIGURED');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"current":');
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('ensureDemoKeyFile creates <dataDir>/registrar.key once and reuses it', () => {
    const dataDir = path.join(tmp, 'data');
    const file = ensureDemoKeyFile(dataDir);
    expect(file).toBe(path.join(dataDir, 'registrar.key'));
    const content = fs.readFileSync(file, 'utf8');
    expect(ensureDemoKeyFile(dataDir)).toBe(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(content);
    fs.writeFileSync(file, 'garbage');
    expect(caught(() => ensureDemoKeyFile(dataDir)).code).toBe('MISCONFIGURED');
    expect(fs.readFileSync(file, 'utf8')).toBe('garbage');
  });
});
