import 'server-only';

import { X509Certificate } from 'node:crypto';

import { decodeJwt, decodeProtectedHeader, importX509, jwtVerify } from 'jose';

import { isJsonObject, type JsonObject } from './parse';
import { copyWithoutUnsafeKeys } from '@/lib/safe-json';

/** UDAP Security (HL7 IG) signature algorithms for signed_metadata: RS256 required, the others optional. */
export const UDAP_SIGNING_ALGS = ['RS256', 'RS384', 'ES256', 'ES384'] as const;

export type UdapVerification = {
  /** true only when the JWS verifies with the x5c leaf and iss/sub/exp and the leaf's SAN and validity are right. */
  verified: boolean;
  /** The decoded claims (present even when unverified, for display). */
  claims: JsonObject | null;
  error: string | null;
};

function safeCopy(value: unknown): JsonObject | null {
  if (!isJsonObject(value)) return null;
  // decodeJwt uses JSON.parse, which keeps "__proto__" as an own key; drop it before anything merges it.
  return copyWithoutUnsafeKeys(value) as JsonObject;
}

function toPem(base64Der: string): string {
  const body = base64Der.replace(/\s+/g, '');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function sanUris(cert: X509Certificate): string[] {
  const san = cert.subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
}

/**
 * UDAP Server Metadata / HL7 UDAP Security §2.3: `signed_metadata` is a JWT signed with the key of
 * x5c[0]; iss is the FHIR base URL (and a URI SAN of that certificate), sub equals iss, exp is
 * required. The chain to a community trust anchor is deliberately NOT validated here.
 */
export async function verifyUdapSignedMetadata(
  jwt: string,
  expectedIssuers: readonly string[],
  now: Date = new Date(),
): Promise<UdapVerification> {
  let claims: JsonObject | null = null;
  try {
    claims = safeCopy(decodeJwt(jwt));
  } catch {
    return { verified: false, claims: null, error: 'signed_metadata is not a readable JWT.' };
  }
  const fail = (error: string): UdapVerification => ({ verified: false, claims, error });

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwt);
  } catch {
    return fail('signed_metadata has an unreadable JWS header.');
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !(UDAP_SIGNING_ALGS as readonly string[]).includes(alg)) {
    return fail(`signed_metadata is signed with ${typeof alg === 'string' ? alg : 'no algorithm'}; UDAP allows ${UDAP_SIGNING_ALGS.join(', ')}.`);
  }
  const x5c: unknown = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string') {
    return fail('signed_metadata has no x5c certificate chain in its header.');
  }
  const leafPem = toPem(x5c[0]);

  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch {
    return fail('The x5c leaf certificate of signed_metadata cannot be parsed.');
  }
  let key: Awaited<ReturnType<typeof importX509>>;
  try {
    key = await importX509(leafPem, alg);
  } catch {
    return fail(`The x5c leaf certificate's key cannot be used with ${alg}.`);
  }
  try {
    await jwtVerify(jwt, key, { algorithms: [alg], currentDate: now, clockTolerance: 60, requiredClaims: ['iss', 'sub', 'exp'] });
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'ERR_JWS_INVALID';
    const detail = error instanceof Error ? error.message : 'verification failed';
    return fail(`signed_metadata does not verify with its x5c leaf certificate: ${detail} (${code}).`);
  }

  const iss = claims?.iss;
  if (typeof iss !== 'string' || !expectedIssuers.includes(iss)) {
    return fail(`signed_metadata iss is ${typeof iss === 'string' ? `"${iss}"` : 'missing'}; it must be the FHIR base URL "${expectedIssuers[0] ?? ''}".`);
  }
  if (claims?.sub !== iss) return fail('signed_metadata sub must equal its iss.');
  if (!sanUris(leaf).includes(iss)) {
    return fail(`The x5c leaf certificate has no uniformResourceIdentifier SAN equal to iss "${iss}".`);
  }
  const validFrom = new Date(leaf.validFrom);
  const validTo = new Date(leaf.validTo);
  if (now < validFrom || now > validTo) {
    return fail(`The x5c leaf certificate is not valid now (valid ${validFrom.toISOString()} to ${validTo.toISOString()}).`);
  }
  return { verified: true, claims, error: null };
}
