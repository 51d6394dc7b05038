// @peculiar/x509 2.x (through tsyringe) needs a Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Test-only: a UDAP community CA and a client certificate it issued (with a URI SAN unless told
 * otherwise), their PEMs and the client key, as a UDAP member would receive them.
 */

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type UdapTestAlg = 'RS256' | 'ES256' | 'ES384';

const KEY_PARAMS: Record<UdapTestAlg, RsaHashedKeyGenParams | EcKeyGenParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
};
const SIGNING: Record<UdapTestAlg, Algorithm | EcdsaParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
  ES384: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams,
};

export const TEST_SAN_URI = 'https://registrar.example.com/udap/apps/registrar';

function pkcs8Pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

export type UdapTestPki = { caPem: string; leafPem: string; leafKeyPem: string; otherKeyPem: string; sanUri: string | null };

export async function makeUdapPki(alg: UdapTestAlg = 'ES384', opts: { sanUri?: string | null; notBefore?: Date; notAfter?: Date } = {}): Promise<UdapTestPki> {
  const subtle = webcrypto.subtle;
  const params = { ...KEY_PARAMS[alg], ...SIGNING[alg] };
  const caKeys = (await subtle.generateKey(KEY_PARAMS[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Registrar Test UDAP Community CA',
    keys: caKeys,
    signingAlgorithm: params,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leafKeys = (await subtle.generateKey(KEY_PARAMS[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const otherKeys = (await subtle.generateKey(KEY_PARAMS[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const sanUri = opts.sanUri === undefined ? TEST_SAN_URI : opts.sanUri;
  const leaf = await x509.X509CertificateGenerator.create({
    subject: 'CN=Registrar UDAP Client',
    issuer: ca.subject,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: params,
    notBefore: opts.notBefore ?? new Date(Date.now() - 3_600_000),
    notAfter: opts.notAfter ?? new Date(Date.now() + 86_400_000),
    extensions: sanUri
      ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: sanUri }])]
      : [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'registrar.example.com' }])],
  });
  return {
    caPem: ca.toString('pem'),
    leafPem: leaf.toString('pem'),
    leafKeyPem: pkcs8Pem(await subtle.exportKey('pkcs8', leafKeys.privateKey)),
    otherKeyPem: pkcs8Pem(await subtle.exportKey('pkcs8', otherKeys.privateKey)),
    sanUri,
  };
}

/**
 * Short fragments of a private key's secret part (JWK `d`) as base64, base64url and hex, at each
 * of the three byte alignments a longer encoding (PKCS#8 PEM, DER, JWK) could put it in; 12
 * characters each, so a PEM line break spoils at most one. Any stored copy of the key contains some.
 */
export function keyCanary(pem: string): { fragments: string[]; foundIn(text: string): boolean } {
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  const d = Buffer.from(String(jwk.d), 'base64url');
  const fragments = new Set<string>();
  for (let shift = 0; shift < 3; shift++) {
    for (const encoded of [d.subarray(shift).toString('base64'), d.subarray(shift).toString('base64url')]) {
      for (let at = 4; at + 12 <= Math.min(encoded.length - 4, 64); at += 12) fragments.add(encoded.slice(at, at + 12));
    }
  }
  const hex = d.toString('hex');
  for (let at = 4; at + 24 <= Math.min(hex.length, 100); at += 24) fragments.add(hex.slice(at, at + 24));
  const list = [...fragments];
  return { fragments: list, foundIn: (text) => list.some((f) => text.includes(f)) };
}

/** Every table of the application's schema whose rows (as text) contain one of the fragments, with the count. */
export async function tablesContaining(fragments: string[]): Promise<Record<string, number>> {
  const { sql } = await import('drizzle-orm');
  const { getDb } = await import('@/db/client');
  const tables = await getDb().execute(sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`);
  const patterns = sql.join(
    fragments.map((f) => sql`${`%${f}%`}`),
    sql`, `,
  );
  const hits: Record<string, number> = {};
  for (const { table_name: name } of tables.rows as Array<{ table_name: string }>) {
    const result = await getDb().execute(sql`select count(*)::int as n from ${sql.identifier(name)} t where t::text like any (array[${patterns}])`);
    const n = Number((result.rows[0] as { n: number } | undefined)?.n ?? 0);
    if (n > 0) hits[name] = n;
  }
  return hits;
}
