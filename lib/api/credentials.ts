import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { appKeys, registrations } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { recordAudit } from '@/lib/audit/record';
import { readCurrentCredential } from '@/lib/credentials/store';
import { resolveActiveRegistration } from '@/lib/rotation/queries';
import { vaultStatus } from '@/lib/credentials/vault';
import { AppError } from '@/lib/errors';
import { expiryOf } from '@/lib/registrations/expiry';

export type RegistrationCredentials = {
  registrationId: string;
  clientId: string;
  authMethod: string;
  clientSecret: string | null;
  secretExpiresAt: string | null;
  expiryState: ReturnType<typeof expiryOf>['state'];
  key: { kid: string; alg: string; jwksUri: string | null } | null;
};

/**
 * The machine-client counterpart of the reveal path: a registration's current client credentials
 * for tokens holding `credentials:read` (admin and ops roles only), every read audited with the
 * credential version it returned. `credentials:read` alone is enough: a deployment pipeline that
 * only fetches credentials needs no other permission.
 */
export async function readRegistrationCredentials(actor: Actor, requestedId: string): Promise<RegistrationCredentials> {
  assertCan(actor, 'credentials:read');
  // After a rotation by re-registration the old id points at its replacement: a pipeline that
  // stored the old id must get what runs now, not a client that is about to be deleted.
  const { registrationId } = await resolveActiveRegistration(requestedId);
  const [reg] = await getDb()
    .select({
      id: registrations.id,
      clientId: registrations.clientId,
      authMethod: registrations.authMethod,
      status: registrations.status,
      secretExpiryKind: registrations.secretExpiryKind,
      secretExpiresAt: registrations.secretExpiresAt,
      requestedMetadata: registrations.requestedMetadata,
      registeredMetadata: registrations.registeredMetadata,
      kid: appKeys.kid,
      alg: appKeys.alg,
    })
    .from(registrations)
    .leftJoin(appKeys, eq(appKeys.id, registrations.appKeyId))
    .where(eq(registrations.id, registrationId))
    .limit(1);
  if (!reg) throw new AppError('NOT_FOUND', 'That registration does not exist.');
  const vault = vaultStatus();
  if (vault.status !== 'ok') {
    // A pipeline that asked and got nothing is part of who read what, as much as a read is.
    await recordAudit(getDb(), actor, { action: 'credential.read', targetType: 'registration', targetId: reg.id, outcome: 'failure', details: { clientId: reg.clientId, error: 'VAULT_LOCKED' } }).catch(() => {});
    throw new AppError('VAULT_LOCKED', `Credentials cannot be read: ${vault.message}`);
  }

  const secret = await readCurrentCredential(getDb(), 'registration', reg.id, 'client_secret');
  const jwksUri = [reg.registeredMetadata.jwks_uri, reg.requestedMetadata.jwks_uri].find((v): v is string => typeof v === 'string') ?? null;
  const key = reg.kid && reg.alg ? { kid: reg.kid, alg: reg.alg, jwksUri } : null;
  const expiry = expiryOf(reg.secretExpiryKind, reg.secretExpiresAt, new Date());
  await recordAudit(getDb(), actor, {
    action: 'credential.read',
    targetType: 'registration',
    targetId: reg.id,
    details: {
      clientId: reg.clientId,
      kind: secret ? 'client_secret' : key ? 'key_reference' : 'client_id',
      ...(secret ? { credentialId: secret.id, version: secret.version, fingerprint: secret.fingerprint } : {}),
      ...(key ? { kid: key.kid } : {}),
    },
  });
  return {
    registrationId: reg.id,
    clientId: reg.clientId,
    authMethod: reg.authMethod,
    clientSecret: secret?.plaintext ?? null,
    secretExpiresAt: expiry.at,
    expiryState: expiry.state,
    key,
  };
}
