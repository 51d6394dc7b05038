import { describe, expect, it } from 'vitest';
import { isSecretKey, redactSecrets } from './redact';

describe('isSecretKey', () => {
  it('matches the keys that carry secrets', () => {
    for (const key of ['client_secret', 'clientSecret', 'registration_access_token', 'initialAccessToken', 'password', 'authorization', 'privateKey', 'client_assertion', 'd', 'k']) {
      expect(isSecretKey(key), key).toBe(true);
    }
  });

  it('leaves keys that only describe a secret: its expiry, issue time, fingerprint and kind', () => {
    for (const key of ['client_secret_expires_at', 'secretExpiresAt', 'secretExpiry', 'secretExpiryKind', 'client_id_issued_at', 'secretFingerprint', 'token_endpoint', 'token_endpoint_auth_method', 'secret_kind']) {
      expect(isSecretKey(key), key).toBe(false);
    }
  });
});

describe('redactSecrets', () => {
  it('redacts secret values at any depth and keeps what describes them', () => {
    const out = redactSecrets({ secretExpiry: 'at', nested: [{ client_secret: 's3cret', client_secret_expires_at: 1_900_000_000 }] });
    expect(out).toEqual({ secretExpiry: 'at', nested: [{ client_secret: '[redacted]', client_secret_expires_at: 1_900_000_000 }] });
  });
});
