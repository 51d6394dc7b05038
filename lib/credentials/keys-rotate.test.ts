import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { runMigrations } from '@/db/migrate';
import * as schema from '@/db/schema';
import { writeRecoveryFile } from '@/lib/registrations/recovery';
import { addKeyToFile, createKeyFile } from './keyring';
import { openSecret } from './vault';
import { listCredentialMeta, readCredentialById, storeCredential } from './store';
import { createScratchDatabase } from '@/test/support/scratch-database';
import { currentVaultKeys, setVaultKeys, VAULT_KEY_VARS } from '@/test/support/vault-keys';

/**
 * `npm run keys:rotate` end to end, against a database of its own on the test server (the script
 * re-wraps every row it can, so it must not see other test files' credentials).
 */

const saved = currentVaultKeys();
const configureKeyFile = (file: string | undefined) => setVaultKeys(file ? { REGISTRAR_KEY_FILE: file } : {});

let tmp: string;
let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let url: string;
let pool: pg.Pool;
let db: Db;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'registrar-rotate-'));
  scratch = await createScratchDatabase('registrar_rotate');
  url = scratch.url;
  await runMigrations(url);
  pool = new pg.Pool({ connectionString: url, max: 2 });
  db = drizzle(pool, { schema });
});

afterAll(async () => {
  setVaultKeys(saved);
  await pool?.end();
  await scratch?.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function rotate(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, REGISTRAR_DATA_DIR: tmp, LOG_LEVEL: 'silent', ...extraEnv };
  for (const v of VAULT_KEY_VARS) if (!(v in extraEnv)) delete env[v];
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'keys:rotate', '--', ...args], { env, cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('npm run keys:rotate', () => {
  it('adds a key to the file, re-wraps in batches, then has nothing to do', { timeout: 120_000 }, async () => {
    const file = path.join(tmp, 'registrar.key');
    const first = createKeyFile(file);
    configureKeyFile(file);
    const owners = Array.from({ length: 5 }, () => randomUUID());
    const plaintexts = new Map<string, string>();
    for (const ownerId of owners) {
      const plaintext = `canary-${randomUUID()}`;
      const { id } = await storeCredential(db, { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext });
      plaintexts.set(id, plaintext);
    }

    const dry = await rotate(['--new-key-file-entry', '--dry-run'], { REGISTRAR_KEY_FILE: file });
    expect(dry.out).toContain('Dry run: would add a new key');
    expect(dry.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).keys).toHaveLength(1);

    const run = await rotate(['--new-key-file-entry', '--batch-size', '2'], { REGISTRAR_KEY_FILE: file });
    expect(run.out, run.out).toMatch(/Added key kek-[0-9a-f]{16} \(version 2\)/);
    expect(run.out).toContain('5 to rewrap');
    expect(run.out).toContain('rewrapped 2/5');
    expect(run.out).toContain('rewrapped 4/5');
    expect(run.out).toContain('rewrapped 5/5');
    expect(run.code).toBe(0);
    const ring = JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string; keys: Array<{ kid: string; key: string }> };
    expect(ring.keys.map((k) => k.kid)).toEqual([first.kid, ring.current]);
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const again = await rotate([], { REGISTRAR_KEY_FILE: file });
    expect(again.out).toContain('0 to rewrap');
    expect(again.code).toBe(0);

    // Every row is under the new key and opens.
    configureKeyFile(file);
    for (const ownerId of owners) {
      const [meta] = await listCredentialMeta(db, 'registration', ownerId);
      expect(meta).toMatchObject({ keyId: ring.current, keyVersion: 2 });
      expect((await readCredentialById(db, meta!.id))?.plaintext).toBe(plaintexts.get(meta!.id));
    }
    const audits = await pool.query<{ n: number }>(`select coalesce(sum((details->>'count')::int), 0)::int as n from audit_log where action = 'vault.rewrap'`);
    expect(audits.rows[0]?.n).toBe(5);

    // Nothing secret was printed.
    for (const output of [dry.out, run.out, again.out]) {
      for (const p of plaintexts.values()) expect(output).not.toContain(p);
      for (const k of ring.keys) expect(output).not.toContain(k.key);
    }
  });

  it('run again with --new-key-file-entry after an interruption, it finishes nothing and adds no key: it says to resume without the flag', { timeout: 120_000 }, async () => {
    const file = path.join(tmp, 'interrupted.key');
    createKeyFile(file);
    configureKeyFile(file);
    const ownerId = randomUUID();
    await storeCredential(db, { ownerType: 'registration', ownerId, kind: 'client_secret', plaintext: `canary-${randomUUID()}` });
    // A run that added its key and stopped before re-wrapping anything.
    addKeyToFile(file);
    const keysBefore = JSON.parse(fs.readFileSync(file, 'utf8')).keys.length;

    const refused = await rotate(['--new-key-file-entry'], { REGISTRAR_KEY_FILE: file });
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/A key rotation is unfinished: 1 stored value is still wrapped by an older key .*so no key was added\. Finish it with `npm run keys:rotate` \(without --new-key-file-entry\)/);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).keys).toHaveLength(keysBefore);

    const resumed = await rotate([], { REGISTRAR_KEY_FILE: file });
    expect(resumed.out, resumed.out).toContain('Done: 1 rewrapped.');
    const next = await rotate(['--new-key-file-entry'], { REGISTRAR_KEY_FILE: file });
    expect(next.out, next.out).toMatch(/Added key kek-[0-9a-f]{16}/);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).keys).toHaveLength(keysBefore + 1);
  });

  it('re-wraps the recovery files waiting to be imported, so removing the old key leaves them readable', { timeout: 120_000 }, async () => {
    const file = path.join(tmp, 'recovery-test.key');
    createKeyFile(file);
    configureKeyFile(file);
    const canary = `recovery-canary-${randomUUID()}`;
    // Where the script (REGISTRAR_DATA_DIR=tmp) looks for them.
    const written = await writeRecoveryFile({ operationId: randomUUID(), actor: 'test', response: { clientSecret: canary } } as never, path.join(tmp, 'recovery'));
    const run = await rotate(['--new-key-file-entry'], { REGISTRAR_KEY_FILE: file });
    expect(run.out, run.out).toContain('Recovery files: 1 re-wrapped');
    // (Its exit code also reflects the first test's rows, under a key this test does not configure.)
    expect(run.out).not.toContain('could not re-wrap recovery file');
    expect(run.out).not.toContain(canary);
    // Only the new key left: the file still opens.
    const ring = JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string; keys: Array<{ kid: string }> };
    const newOnly = path.join(tmp, 'recovery-new-only.key');
    fs.writeFileSync(newOnly, JSON.stringify({ current: ring.current, keys: ring.keys.filter((k) => k.kid === ring.current) }), { mode: 0o600 });
    configureKeyFile(newOnly);
    const stored = JSON.parse(fs.readFileSync(path.resolve(written), 'utf8')) as { fileId: string; envelope: Parameters<typeof openSecret>[0] & { kid: string } };
    expect(stored.envelope.kid).toBe(ring.current);
    expect(openSecret(stored.envelope, `recovery-file:${stored.fileId}`)).toContain(canary);
  });

  it('refuses --new-key-file-entry when REGISTRAR_KEY is set, and fails clearly without a key', { timeout: 60_000 }, async () => {
    const withEnvKey = await rotate(['--new-key-file-entry'], { REGISTRAR_KEY: randomBytes(32).toString('base64'), REGISTRAR_KEY_FILE: path.join(tmp, 'x.key') });
    expect(withEnvKey.code).toBe(1);
    expect(withEnvKey.out).toContain('REGISTRAR_KEY is set');
    expect(fs.existsSync(path.join(tmp, 'x.key'))).toBe(false);

    const noKey = await rotate([]);
    expect(noKey.code).toBe(1);
    expect(noKey.out).toContain('No encryption key is configured');
  });
});
