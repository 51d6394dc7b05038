import 'server-only';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { appCertificates, appKeys, apps } from '@/db/schema';
import { actorLabel, assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { readCurrentCredential, storeCredential } from '@/lib/credentials/store';
import { AppError } from '@/lib/errors';
import type { SigningAlg } from '@/lib/oauth/registration/client-auth';
import { assertChainLinks, sanUris } from '@/lib/oauth/registration/software-statement';
import { getAppOrThrow } from './queries';
import { environmentNameSchema } from './schemas';

/**
 * UDAP client certificates (HL7 UDAP Security): an app holds, per environment, one active X.509
 * chain (public, stored as PEM) and its private key (in the vault, as an `app_keys` row of purpose
 * `udap` whose credential is the PKCS#8 key). The key is accepted once, on upload, and never leaves
 * lib/ again except to sign a software statement.
 */

const PEM_TEXT = z.string().max(64_000, 'That is too large for a PEM file (64 kB at most).');

export const uploadUdapCertificateSchema = z.object({
  appId: z.uuid(),
  environment: environmentNameSchema,
  certificateChainPem: PEM_TEXT.min(1, 'Upload or paste the certificate chain (PEM, client certificate first).'),
  privateKeyPem: PEM_TEXT.min(1, 'Upload or paste the private key of the client certificate (PEM).'),
});
export type UploadUdapCertificateInput = z.input<typeof uploadUdapCertificateSchema>;

/** What the UI may see of a certificate: never the key. */
export type UdapCertificateSummary = {
  id: string;
  environment: string;
  subject: string;
  issuer: string;
  sanUris: string[];
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the leaf's DER, colon-separated hex (as `openssl x509 -fingerprint -sha256` prints it). */
  fingerprintSha256: string;
  alg: string;
  chainLength: number;
  createdAt: string;
  createdBy: string | null;
};

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificate blocks of an upload, leaf first, each parsed; refuses anything else. */
export function parseCertificateChain(pem: string): { blocks: string[]; chain: X509Certificate[] } {
  if (/PRIVATE KEY-----/.test(pem)) {
    throw new AppError('INVALID', 'The certificate field contains a private key. Put the key in the private key field: the certificate chain is stored unencrypted.', {
      field: 'certificateChainPem',
    });
  }
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new AppError('INVALID', 'No certificate found: give the client certificate (and its chain, leaf first) in PEM form, starting with -----BEGIN CERTIFICATE-----.', {
      field: 'certificateChainPem',
    });
  }
  const chain = blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new AppError('INVALID', `Certificate ${index + 1} of the chain is not a readable X.509 certificate.`, { field: 'certificateChainPem' });
    }
  });
  assertChainLinks(chain, () => ({ field: 'certificateChainPem' }));
  return { blocks, chain };
}

/** The unencrypted private key of an upload (PKCS#8, PKCS#1 or SEC1 PEM), normalised to PKCS#8 PEM. */
function parsePrivateKey(pem: string): { key: KeyObject; pkcs8Pem: string } {
  if (/ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new AppError('INVALID', 'The private key is encrypted. Registrar keeps keys encrypted in its own vault: upload the unencrypted key (e.g. `openssl pkcs8 -topk8 -nocrypt`).', {
      field: 'privateKeyPem',
    });
  }
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    return { key, pkcs8Pem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
  } catch {
    // Never quote the input: it is the secret.
    throw new AppError('INVALID', 'The private key is not a readable PEM private key (-----BEGIN PRIVATE KEY-----, or an RSA/EC private key).', { field: 'privateKeyPem' });
  }
}

/** UDAP: RS256 for RSA keys; ES256/ES384 for P-256/P-384 keys. */
function signingAlgFor(key: KeyObject): SigningAlg {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return 'ES256';
    if (curve === 'secp384r1' || curve === 'P-384') return 'ES384';
  }
  throw new AppError('INVALID', `UDAP software statements are signed with RSA (RS256) or EC P-256/P-384 keys; this key is ${key.asymmetricKeyType ?? 'of an unknown type'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}.`, {
    field: 'privateKeyPem',
  });
}

function fingerprint(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex').toUpperCase().match(/../g)!.join(':');
}

/**
 * Validates an uploaded UDAP client certificate and key: the chain is leaf first; the leaf has a
 * URI subjectAltName (the statement's iss/sub) and has not expired; the key is the leaf's key.
 * Pure: returns what will be stored.
 */
export function validateUdapUpload(input: { certificateChainPem: string; privateKeyPem: string }, now = new Date()) {
  const { blocks, chain } = parseCertificateChain(input.certificateChainPem);
  const leaf = chain[0]!;
  const uris = sanUris(leaf);
  if (uris.length === 0) {
    throw new AppError(
      'INVALID',
      'The client certificate has no URI subjectAltName. UDAP uses that URI as the software statement’s iss and sub: ask your UDAP community for a certificate with a URI SAN.',
      { field: 'certificateChainPem' },
    );
  }
  if (new Date(leaf.validTo) <= now) {
    throw new AppError('INVALID', `The client certificate expired on ${new Date(leaf.validTo).toISOString()}. Upload a current certificate.`, { field: 'certificateChainPem' });
  }
  // Signing checks both ends of the validity (software-statement.ts): refused here, not later in the wizard.
  if (new Date(leaf.validFrom) > now) {
    throw new AppError('INVALID', `The client certificate is not valid before ${new Date(leaf.validFrom).toISOString()}. Upload it from then, or a certificate that is valid now.`, { field: 'certificateChainPem' });
  }
  const { key, pkcs8Pem } = parsePrivateKey(input.privateKeyPem);
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(leaf.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new AppError(
      'INVALID',
      'The private key does not match the client certificate: its public key is not the one in the certificate (the first of the chain). Upload the key that belongs to this certificate.',
      { field: 'privateKeyPem' },
    );
  }
  const alg = signingAlgFor(key);
  return {
    alg,
    pkcs8Pem,
    chainPem: blocks.join('\n'),
    publicJwk: leaf.publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    summary: {
      subject: leaf.subject.replace(/\n/g, ', '),
      issuer: leaf.issuer.replace(/\n/g, ', '),
      sanUris: uris,
      serialNumber: leaf.serialNumber,
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
      fingerprintSha256: fingerprint(leaf),
      chainLength: chain.length,
    },
  };
}

/**
 * Stores an app's UDAP certificate for an environment, replacing the active one: the chain and its
 * description in `app_certificates`, the key in the vault (owner `app_key`), one audited
 * transaction. Returns the description only.
 */
export async function uploadUdapCertificate(actor: Actor, raw: UploadUdapCertificateInput): Promise<UdapCertificateSummary> {
  assertCan(actor, 'registrations:write');
  const input = uploadUdapCertificateSchema.parse(raw);
  const checked = validateUdapUpload(input);
  return auditedMutation(
    actor,
    { action: 'app.udap_certificate.upload', targetType: 'app', targetId: input.appId, details: { environment: input.environment } },
    async (tx) => {
      await tx.select({ id: apps.id }).from(apps).where(eq(apps.id, input.appId)).for('update');
      const app = await getAppOrThrow(actor, input.appId, tx);
      if (!app.profile.environments[input.environment]) {
        throw new AppError('INVALID', `The app has no "${input.environment}" environment: add it to the profile first.`, { field: 'environment' });
      }
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`app-key:${input.appId}:${input.environment}:udap`}))`);
      const now = new Date();
      const retired = await tx
        .update(appCertificates)
        .set({ state: 'retired', retiredAt: now })
        .where(and(eq(appCertificates.appId, input.appId), eq(appCertificates.environment, input.environment), eq(appCertificates.state, 'active')))
        .returning({ appKeyId: appCertificates.appKeyId });
      for (const r of retired) await tx.update(appKeys).set({ state: 'retired', retiredAt: now }).where(eq(appKeys.id, r.appKeyId));

      const [key] = await tx
        .insert(appKeys)
        .values({ appId: input.appId, environment: input.environment, purpose: 'udap', kid: `udap-${randomUUID()}`, alg: checked.alg, publicJwk: checked.publicJwk })
        .returning({ id: appKeys.id });
      await storeCredential(tx, { ownerType: 'app_key', ownerId: key!.id, kind: 'private_key', plaintext: checked.pkcs8Pem });
      const [row] = await tx
        .insert(appCertificates)
        .values({ appId: input.appId, environment: input.environment, appKeyId: key!.id, chainPem: checked.chainPem, ...checked.summary, createdBy: actorLabel(actor) })
        .returning();
      const summary = toSummary({ ...row!, alg: checked.alg });
      return {
        result: summary,
        details: { subject: summary.subject, sanUris: summary.sanUris, fingerprintSha256: summary.fingerprintSha256, notAfter: summary.notAfter, replaced: retired.length },
      };
    },
  );
}

function toSummary(row: typeof appCertificates.$inferSelect & { alg: string }): UdapCertificateSummary {
  return {
    id: row.id,
    environment: row.environment,
    subject: row.subject,
    issuer: row.issuer,
    sanUris: row.sanUris,
    serialNumber: row.serialNumber,
    notBefore: row.notBefore.toISOString(),
    notAfter: row.notAfter.toISOString(),
    fingerprintSha256: row.fingerprintSha256,
    alg: row.alg,
    chainLength: row.chainLength,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
  };
}

/** The app's active UDAP certificates, one per environment (descriptions only). */
export async function listUdapCertificates(actor: Actor, appId: string): Promise<UdapCertificateSummary[]> {
  assertCan(actor, 'registrations:read');
  const rows = await getDb()
    .select({ cert: appCertificates, alg: appKeys.alg })
    .from(appCertificates)
    .innerJoin(appKeys, eq(appKeys.id, appCertificates.appKeyId))
    .where(and(eq(appCertificates.appId, appId), eq(appCertificates.state, 'active')))
    .orderBy(asc(appCertificates.environment));
  return rows.map((r) => toSummary({ ...r.cert, alg: r.alg }));
}

/** The app's active UDAP certificate for an environment (description only), or null. */
export async function findUdapCertificate(appId: string, environment: string): Promise<UdapCertificateSummary | null> {
  const [row] = await getDb()
    .select({ cert: appCertificates, alg: appKeys.alg })
    .from(appCertificates)
    .innerJoin(appKeys, eq(appKeys.id, appCertificates.appKeyId))
    .where(and(eq(appCertificates.appId, appId), eq(appCertificates.environment, environment), eq(appCertificates.state, 'active')))
    .limit(1);
  return row ? toSummary({ ...row.cert, alg: row.alg }) : null;
}

/** Chain and private key for signing a UDAP software statement. Internal only: never to a caller outside lib/. */
export async function readUdapSigningMaterial(appId: string, environment: string) {
  const [row] = await getDb()
    .select({ appKeyId: appCertificates.appKeyId, chainPem: appCertificates.chainPem, alg: appKeys.alg, sanUris: appCertificates.sanUris })
    .from(appCertificates)
    .innerJoin(appKeys, eq(appKeys.id, appCertificates.appKeyId))
    .where(and(eq(appCertificates.appId, appId), eq(appCertificates.environment, environment), eq(appCertificates.state, 'active')))
    .limit(1);
  if (!row) return null;
  const key = await readCurrentCredential(getDb(), 'app_key', row.appKeyId, 'private_key');
  if (!key) throw new AppError('MISCONFIGURED', 'The UDAP certificate’s private key is missing from the vault: upload the certificate and key again.');
  return {
    appKeyId: row.appKeyId,
    alg: row.alg as SigningAlg,
    certificateChainPem: row.chainPem.match(CERT_BLOCK) ?? [],
    privateKeyPkcs8Pem: key.plaintext,
    sanUris: row.sanUris,
  };
}
