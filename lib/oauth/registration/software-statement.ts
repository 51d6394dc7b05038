import 'server-only';

import { X509Certificate, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';

import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';

import { AppError } from '@/lib/errors';

import { type SigningAlg, importSigningKey } from './client-auth';
import { JWT_REGISTERED_CLAIMS, isRecord } from './fields';
import { assertSendableMetadata } from './register';
import type { ClientMetadata } from './types';
import { copyWithoutUnsafeKeys } from '@/lib/safe-json';

function safeCopy(value: unknown): Record<string, unknown> {
  if (!isRecord(value)) return {};
  return copyWithoutUnsafeKeys(value) as Record<string, unknown>;
}

function assertMetadataClaims(metadata: ClientMetadata): void {
  const reserved = Object.keys(metadata).filter((k) => JWT_REGISTERED_CLAIMS.has(k));
  if (reserved.length > 0) {
    throw new AppError('INVALID', `The metadata must not set ${reserved.join(', ')}: they are set when the statement is signed.`, { fields: reserved });
  }
  if (metadata.software_statement !== undefined) {
    throw new AppError('INVALID', 'A software statement cannot contain another software_statement.', { field: 'software_statement' });
  }
  assertSendableMetadata(metadata);
}

/**
 * RFC 7591 §2.3: a software statement is a JWS whose claims are client metadata, with an `iss`
 * naming the signer. Its claims win over the plain JSON members of the registration request.
 */
export async function signSoftwareStatement(input: {
  metadata: ClientMetadata;
  issuer: string;
  privateKeyPkcs8Pem: string;
  alg: SigningAlg;
  kid: string;
  expiresInSeconds?: number;
}): Promise<string> {
  assertMetadataClaims(input.metadata);
  if (input.issuer.trim() === '') throw new AppError('INVALID', 'A software statement needs an issuer (RFC 7591 §2.3).');
  if (input.expiresInSeconds !== undefined && !(Number.isInteger(input.expiresInSeconds) && input.expiresInSeconds > 0)) {
    throw new AppError('INVALID', 'expiresInSeconds must be a positive whole number of seconds.');
  }
  const key = await importSigningKey(input.privateKeyPkcs8Pem, input.alg);
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...input.metadata })
    .setProtectedHeader({ alg: input.alg, kid: input.kid, typ: 'JWT' })
    .setIssuer(input.issuer)
    .setIssuedAt(now)
    .setJti(randomUUID());
  if (input.expiresInSeconds !== undefined) jwt.setExpirationTime(now + input.expiresInSeconds);
  return jwt.sign(key);
}

/**
 * Each certificate of a leaf-first chain was issued by the next one: named as its issuer (names and
 * key identifiers, `checkIssued`) and signed by its key (`verify`): a name says who claims to have
 * issued it, the signature who did. `details(i)` is the error's context for link i (0: leaf → next).
 */
export function assertChainLinks(chain: readonly X509Certificate[], details: (i: number) => Record<string, unknown>): void {
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!)) {
      throw new AppError('INVALID', `Certificate ${i + 2} of the chain did not issue certificate ${i + 1}: give the chain leaf first (client certificate, then its issuers).`, details(i));
    }
    if (!chain[i]!.verify(chain[i + 1]!.publicKey)) {
      throw new AppError(
        'INVALID',
        `Certificate ${i + 1} of the chain names certificate ${i + 2} as its issuer, but is not signed by its key: certificate ${i + 2} is another certificate with the same name (a renewed or different CA). Give the issuer certificate that signed it.`,
        details(i),
      );
    }
  }
}

/** URI entries of a certificate's subjectAltName as node:crypto prints it (values with special characters are JSON-quoted). */
export function sanUris(certificate: X509Certificate): string[] {
  const san = certificate.subjectAltName ?? '';
  const out: string[] = [];
  for (const match of san.matchAll(/(?:^|,\s*)([A-Za-z][A-Za-z0-9 ]*):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    if (match[1] !== 'URI') continue;
    const raw = match[2] ?? '';
    try {
      out.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
    } catch {
      // An unreadable quoted value is skipped rather than guessed at.
    }
  }
  return out;
}

function parseChain(pems: string[]): X509Certificate[] {
  const blocks = pems.flatMap((pem) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []);
  if (blocks.length === 0) throw new AppError('INVALID', 'The certificate chain is empty: give the client certificate (leaf) first, in PEM form.');
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new AppError('INVALID', `Certificate ${index + 1} of the chain is not a readable X.509 certificate.`, { index });
    }
  });
}

/** UDAP and HL7 UDAP Security: the statement lives at most 5 minutes. */
const UDAP_LIFETIME_SECONDS = 300;

/**
 * UDAP Dynamic Client Registration (HL7 UDAP Security §3.1): a software statement signed with the
 * key of the client certificate, x5c = the chain (base64 DER, leaf first); iss = sub = a URI SAN of
 * the leaf (the first, unless `issuer` picks another), aud = the registration endpoint,
 * exp = iat + 300, a unique jti, plus the metadata claims (token_endpoint_auth_method defaults to
 * private_key_jwt). The request body is {software_statement, udap: "1"}.
 */
export async function buildUdapSoftwareStatement(input: {
  certificateChainPem: string[];
  privateKeyPkcs8Pem: string;
  alg: SigningAlg;
  registrationEndpoint: string;
  metadata: ClientMetadata;
  /** Which of the leaf's URI SANs to use as iss/sub when it has several. */
  issuer?: string;
}): Promise<{ jwt: string; claims: Record<string, unknown>; body: { software_statement: string; udap: '1' } }> {
  assertMetadataClaims(input.metadata);
  const chain = parseChain(input.certificateChainPem);
  const leaf = chain[0]!;

  const uris = sanUris(leaf);
  if (uris.length === 0) {
    throw new AppError('INVALID', 'The client certificate has no URI subjectAltName; UDAP needs one as the software statement issuer.');
  }
  if (input.issuer !== undefined && !uris.includes(input.issuer)) {
    throw new AppError('INVALID', `${input.issuer} is not a URI subjectAltName of the client certificate (it has ${uris.join(', ')}).`);
  }
  const iss = input.issuer ?? uris[0]!;

  const now = new Date();
  if (new Date(leaf.validTo) <= now || new Date(leaf.validFrom) > now) {
    throw new AppError('INVALID', `The client certificate is not valid now (valid from ${leaf.validFrom} to ${leaf.validTo}).`);
  }
  assertChainLinks(chain, (i) => ({ index: i + 1 }));

  let matches = false;
  try {
    const fromKey = createPublicKey(createPrivateKey(input.privateKeyPkcs8Pem)).export({ type: 'spki', format: 'der' });
    matches = fromKey.equals(leaf.publicKey.export({ type: 'spki', format: 'der' }));
  } catch {
    throw new AppError('INVALID', 'The private key is not a readable PKCS#8 PEM key.');
  }
  if (!matches) throw new AppError('INVALID', 'The private key does not belong to the client certificate (the first of the chain).');

  const key = await importSigningKey(input.privateKeyPkcs8Pem, input.alg);
  const iat = Math.floor(now.getTime() / 1000);
  const claims: Record<string, unknown> = {
    token_endpoint_auth_method: 'private_key_jwt',
    ...input.metadata,
    iss,
    sub: iss,
    aud: input.registrationEndpoint,
    iat,
    exp: iat + UDAP_LIFETIME_SECONDS,
    jti: randomUUID(),
  };
  const jwt = await new SignJWT(claims)
    .setProtectedHeader({ alg: input.alg, x5c: chain.map((c) => c.raw.toString('base64')) })
    .sign(key);
  return { jwt, claims, body: { software_statement: jwt, udap: '1' } };
}

/** Header and claims of a JWT, NOT verified: for showing a statement before it is sent. */
export function decodeJwtUnverified(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  try {
    return { header: safeCopy(decodeProtectedHeader(jwt)), payload: safeCopy(decodeJwt(jwt)) };
  } catch {
    throw new AppError('INVALID', 'This is not a readable JWT (three base64url parts with JSON header and claims).');
  }
}
