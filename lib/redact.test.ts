import { describe, expect, it } from 'vitest';
import { isSecretKey, redactSecrets, redactUrlSecrets } from './redact';

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

describe('redactUrlSecrets', () => {
  it('removes a URL’s user:password and its secret query parameters, and keeps the rest of the URL', () => {
    expect(redactUrlSecrets('https://ops:hunter2-pass@fhir.example.org/r4?tenant=a&access_token=abc.def&client_secret=xyz#frag')).toBe(
      'https://[redacted]@fhir.example.org/r4?tenant=a&access_token=[redacted]&client_secret=[redacted]#frag',
    );
    expect(redactUrlSecrets('discovery of http://u@10.0.0.1/x failed')).toBe('discovery of http://[redacted]@10.0.0.1/x failed');
    expect(redactUrlSecrets('https://fhir.example.org/r4/.well-known/smart-configuration?token_endpoint_auth=x')).toBe('https://fhir.example.org/r4/.well-known/smart-configuration?token_endpoint_auth=x');
    expect(redactUrlSecrets('plain text, no URL')).toBe('plain text, no URL');
  });

  it('applies to every string redactSecrets copies (an audit row keeps the URL a person typed, without its credentials)', () => {
    expect(redactSecrets({ url: 'https://me:pw123456@ehr.example.org/fhir?api_key=k-123', environment: 'production' })).toEqual({ url: 'https://[redacted]@ehr.example.org/fhir?api_key=[redacted]', environment: 'production' });
  });
});
