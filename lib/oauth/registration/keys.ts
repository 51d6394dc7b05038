import 'server-only';

import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from 'jose';

import { AppError } from '@/lib/errors';

import { PRIVATE_JWK_MEMBERS } from './fields';
import type { JsonWebKeyLike } from './types';

export type ClientKeyAlg = 'RS384' | 'ES384';

export type PublicJwk = JsonWebKeyLike & { kid: string; alg: string; use: 'sig' };

/** The public members each key type may publish (RFC 7517 §4, RFC 7518 §6). */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};
const COMMON_MEMBERS = ['kty', 'kid', 'alg', 'use', 'key_ops', 'x5c', 'x5t', 'x5t#S256', 'x5u'] as const;

/**
 * A signing key pair for private_key_jwt (SMART: RS384 and ES384). The kid is the RFC 7638
 * thumbprint, so the same key always gets the same kid.
 */
export async function generateClientKeyPair(alg: ClientKeyAlg): Promise<{ kid: string; alg: ClientKeyAlg; publicJwk: PublicJwk; privateKeyPkcs8Pem: string }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS384' ? { modulusLength: 2048 } : {}) });
  const exported = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(exported, 'sha256');
  const members = PUBLIC_MEMBERS[exported.kty ?? ''] ?? [];
  const publicJwk: PublicJwk = { kty: String(exported.kty), kid, alg, use: 'sig' };
  for (const member of members) {
    const value = (exported as Record<string, unknown>)[member];
    if (value !== undefined) publicJwk[member] = value;
  }
  return { kid, alg, publicJwk, privateKeyPkcs8Pem: await exportPKCS8(privateKey) };
}

/**
 * A JWKS safe to publish or send inline: only public members are kept (d, p, q, dp, dq, qi, oth
 * and k never leave), and every key must have kty and kid (SMART). Symmetric keys are refused.
 */
export function publicJwks(keys: JsonWebKeyLike[]): { keys: JsonWebKeyLike[] } {
  if (keys.length === 0) throw new AppError('INVALID', 'A JWKS needs at least one key.');
  return {
    keys: keys.map((key, index) => {
      if (typeof key.kty !== 'string' || key.kty === '') throw new AppError('INVALID', `Key ${index} has no kty.`, { index });
      if (typeof key.kid !== 'string' || key.kid === '') throw new AppError('INVALID', `Key ${index} has no kid; every published key needs one.`, { index });
      const members = PUBLIC_MEMBERS[key.kty];
      if (!members) {
        throw new AppError('INVALID', `Key ${key.kid} has kty ${key.kty}; only RSA, EC and OKP public keys can be published.`, { index, kty: key.kty });
      }
      const out: JsonWebKeyLike = { kty: key.kty };
      for (const member of [...COMMON_MEMBERS, ...members]) {
        if (key[member] !== undefined) out[member] = key[member];
      }
      return out;
    }),
  };
}

/** The private members a JWK carries (none for a public key). */
export function privateMembersOf(key: Record<string, unknown>): string[] {
  return PRIVATE_JWK_MEMBERS.filter((member) => key[member] !== undefined);
}
