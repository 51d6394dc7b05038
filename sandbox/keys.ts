import { exportJWK, generateKeyPair, type JWK } from 'jose';

export type PrivateJwks = { keys: JWK[] };

let cached: Promise<PrivateJwks> | undefined;

/**
 * Signing keys for the sandbox authorization servers. Generated once per process: RSA key
 * generation costs tens of milliseconds and the tests start servers many times.
 */
export function sandboxSigningKeys(): Promise<PrivateJwks> {
  cached ??= (async () => {
    const rsa = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    const rsaJwk = await exportJWK(rsa.privateKey);
    const ecJwk = await exportJWK(ec.privateKey);
    return {
      keys: [
        { ...rsaJwk, kid: 'sandbox-rs256', alg: 'RS256', use: 'sig' },
        { ...ecJwk, kid: 'sandbox-es256', alg: 'ES256', use: 'sig' },
      ],
    };
  })();
  return cached;
}
