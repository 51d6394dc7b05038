import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyMaterial } from '@/lib/credentials/vault';
import { currentVaultKeys, setVaultKeys } from '@/test/support/vault-keys';
import { checkHealth } from './check';

const saved = currentVaultKeys();
afterAll(() => setVaultKeys(saved));

describe('/api/health: the encryption key', () => {
  it('without a key: degraded, and says why (credential operations fail closed)', async () => {
    setVaultKeys({});
    const report = await checkHealth();
    expect(report.status).toBe('degraded');
    expect(report.encryptionKey.status).toBe('absent');
    expect(report.encryptionKey.message).toMatch(/REGISTRAR_KEY/);
  });

  it('with a wrong key: degraded, and says what is wrong without quoting the value', async () => {
    const bad = 'not-a-key-but-a-canary-4c1f';
    setVaultKeys({ REGISTRAR_KEY: bad });
    const report = await checkHealth();
    expect(report.status).toBe('degraded');
    expect(report.encryptionKey.status).toBe('invalid');
    expect(report.encryptionKey.message.length).toBeGreaterThan(10);
    expect(JSON.stringify(report)).not.toContain(bad);
  });

  it('with a usable key: ok, and names neither the key nor where it lives (anyone can read /api/health)', async () => {
    const key = generateKeyMaterial();
    setVaultKeys({ REGISTRAR_KEY: key });
    const report = await checkHealth();
    expect(report.encryptionKey).toEqual({ status: 'ok', source: 'env', message: 'A usable encryption key is configured.' });
    const text = JSON.stringify(report);
    expect(text).not.toContain(key);
    expect(text).not.toMatch(/"keyId"|\(version \d+\)/);
  });
});
