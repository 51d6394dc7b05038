import 'server-only';
import { getDb } from '@/db/client';
import type { Actor } from '@/lib/auth/actor';
import { assertCanAudited, recordAudit } from '@/lib/audit/record';
import { AppError, isAppError } from '@/lib/errors';
import { readCurrentCredential } from './store';

/**
 * The one path by which a stored secret leaves Registrar in plaintext for a person: ops and admins
 * only, and every reveal is audited (who, which registration, which credential version).
 */
export async function revealRegistrationSecret(actor: Actor, input: { registrationId: string; kind: 'client_secret' | 'registration_access_token' }): Promise<{ value: string; fingerprint: string }> {
  const entry = { action: 'credential.reveal', targetType: 'registration', targetId: input.registrationId, details: { kind: input.kind } };
  await assertCanAudited(actor, ['credentials:reveal'], entry);
  let credential: Awaited<ReturnType<typeof readCurrentCredential>>;
  try {
    credential = await readCurrentCredential(getDb(), 'registration', input.registrationId, input.kind);
    if (!credential) throw new AppError('NOT_FOUND', input.kind === 'client_secret' ? 'This registration has no client secret.' : 'This registration has no registration access token.');
  } catch (error) {
    // An attempt that found nothing, or a vault that would not open (locked, a tampered row), is
    // part of who tried to read what as much as a reveal is.
    await recordAudit(getDb(), actor, { ...entry, outcome: 'failure', details: { ...entry.details, error: isAppError(error) ? error.code : 'INTERNAL' } }).catch(() => {});
    throw error;
  }
  await recordAudit(getDb(), actor, {
    action: 'credential.reveal',
    targetType: 'registration',
    targetId: input.registrationId,
    details: { kind: input.kind, credentialId: credential.id, version: credential.version, fingerprint: credential.fingerprint },
  });
  return { value: credential.plaintext, fingerprint: credential.fingerprint };
}
