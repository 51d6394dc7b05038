import 'server-only';
import { getDb } from '@/db/client';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { recordAudit } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { readCurrentCredential } from './store';

/**
 * The one path by which a stored secret leaves Registrar in plaintext for a person: ops and admins
 * only, and every reveal is audited (who, which registration, which credential version).
 */
export async function revealRegistrationSecret(actor: Actor, input: { registrationId: string; kind: 'client_secret' | 'registration_access_token' }): Promise<{ value: string; fingerprint: string }> {
  try {
    assertCan(actor, 'credentials:reveal');
  } catch (error) {
    await recordAudit(getDb(), actor, { action: 'credential.reveal', targetType: 'registration', targetId: input.registrationId, outcome: 'denied', details: { kind: input.kind } });
    throw error;
  }
  const credential = await readCurrentCredential(getDb(), 'registration', input.registrationId, input.kind);
  if (!credential) throw new AppError('NOT_FOUND', input.kind === 'client_secret' ? 'This registration has no client secret.' : 'This registration has no registration access token.');
  await recordAudit(getDb(), actor, {
    action: 'credential.reveal',
    targetType: 'registration',
    targetId: input.registrationId,
    details: { kind: input.kind, credentialId: credential.id, version: credential.version, fingerprint: credential.fingerprint },
  });
  return { value: credential.plaintext, fingerprint: credential.fingerprint };
}
