import 'server-only';
import { assertCan, type Actor } from '@/lib/auth/actor';
import type { RegistrationWarning } from '@/lib/oauth/registration';
import { compareMetadataRecords } from './drift';
import { withRegistrationLock } from './lock';
import { refreshRegistrationSchema, type RefreshRegistrationInput } from './schemas';
import { assertVaultOpen, loadManageableRegistration, readServerRecord, type ManageDeps, type RotatedKind } from './shared';

/** One field of Registrar's record against the hospital's (values as JSON text; null = absent). */
export type RegistrationDriftRow = { field: string; registrar: string | null; server: string | null; differs: boolean };

export type RefreshResult = {
  registrationId: string;
  lastCheckedAt: string;
  drift: RegistrationDriftRow[];
  hasDrift: boolean;
  /** Credentials the answer carried with new values, now stored as current (old → previous). */
  rotated: RotatedKind[];
  warnings: RegistrationWarning[];
};

/** Registrar's record (`registeredMetadata`) against the server's, field by field over both records' fields. */
export function registrationDrift(registered: Record<string, unknown>, server: Record<string, unknown>): RegistrationDriftRow[] {
  return compareMetadataRecords(registered, server).map((d) => ({ field: d.field, registrar: d.left, server: d.right, differs: d.differs }));
}

/**
 * RFC 7592 §2.1: reads the registration at the hospital with the current registration access
 * token and records the server's record and the time of the check. New credentials in the answer
 * are stored first. A 401 marks the registration `management_lost` (credentials untouched).
 */
export async function refreshRegistrationFromServer(actor: Actor, input: RefreshRegistrationInput, deps: ManageDeps = {}): Promise<RefreshResult> {
  // It calls the hospital and writes what it learns: an operator's action, not a read.
  assertCan(actor, 'registrations:write');
  const { registrationId } = refreshRegistrationSchema.parse(input);
  assertVaultOpen();
  return withRegistrationLock(registrationId, async () => {
    const reg = await loadManageableRegistration(registrationId);
    const read = await readServerRecord(actor, reg, deps, 'refresh');
    const drift = registrationDrift(reg.registeredMetadata, read.serverMetadata);
    return {
      registrationId,
      lastCheckedAt: read.checkedAt.toISOString(),
      drift,
      hasDrift: drift.some((d) => d.differs),
      rotated: read.rotated,
      warnings: read.warnings,
    };
  });
}
