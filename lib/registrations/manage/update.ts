import 'server-only';
import { registrationFindings } from '../findings';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrations } from '@/db/schema';
import { recordAudit, type AuditEntry } from '@/lib/audit/record';
import type { RegistrationOverrides } from '../build-request';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { updateClientRegistration, type ClientMetadata, type RegistrationResponse, type RegistrationWarning } from '@/lib/oauth/registration';
import { validateRedirectUris } from '@/lib/redirect-uris';
import { withRegistrationLock } from './lock';
import { updateRegistrationSchema, type MetadataChanges, type UpdateRegistrationInput } from './schemas';
import {
  assertVaultOpen,
  currentRegistrationAccessToken,
  failManagementCall,
  hasFreshServerRecord,
  loadManageableRegistration,
  managementFetchInit,
  persistIssuedCredentials,
  readServerRecord,
  serverRecordColumns,
  type ManageDeps,
  type RotatedKind,
} from './shared';

export type UpdateResult = {
  registrationId: string;
  /** The fields this update asked to change. */
  changedFields: string[];
  /** Where the server kept something other than what was sent (RFC 7591 §3.2.1 substitution). */
  warnings: RegistrationWarning[];
  rotated: RotatedKind[];
  /** Whether a GET was needed first because the stored server record was missing or stale. */
  readFirst: boolean;
};

/** Drops keys whose value is undefined: in an update, an absent key means "keep", null means "remove". */
function definedChanges(changes: MetadataChanges): ClientMetadata {
  return Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
}

/** Registration rules for redirect URIs (RFC 8252, RFC 9700): errors refuse the update before the hospital sees it. */
function assertValidRedirectUris(changes: ClientMetadata, applicationType: unknown): void {
  const uris = changes.redirect_uris;
  if (!Array.isArray(uris)) return;
  const strings = uris.filter((u): u is string => typeof u === 'string');
  const type = applicationType === 'web' || applicationType === 'native' ? applicationType : undefined;
  const problems = validateRedirectUris(strings, { applicationType: type }).flatMap((r) => r.findings.filter((f) => f.severity === 'error').map((f) => `${r.uri}: ${f.message}`));
  if (problems.length > 0) throw new AppError('INVALID', problems.join(' '), { field: 'redirect_uris' });
}

/** What Registrar asked for, after this change: the original request with the change applied (null removes). */
function requestedAfter(requested: Record<string, unknown>, changes: ClientMetadata): Record<string, unknown> {
  const out = { ...requested };
  for (const [field, value] of Object.entries(changes)) {
    if (value === null) delete out[field];
    else out[field] = value;
  }
  return out;
}

/**
 * RFC 7592 §2.2: changes a registration at the hospital with a PUT that replaces it whole — the
 * latest server record (read first when missing or older than the registration's last change)
 * with the changes applied, never the server-managed fields. A rotated registration access token
 * or new secret in the answer is stored first, in its own transaction; then Registrar's record,
 * the server's record and the audit row.
 */
export async function updateRegistration(actor: Actor, input: UpdateRegistrationInput, deps: ManageDeps = {}): Promise<UpdateResult> {
  assertCan(actor, 'registrations:write');
  const { registrationId, changes } = updateRegistrationSchema.parse(input);
  assertVaultOpen();
  return withRegistrationLock(registrationId, () => updateRegistrationLocked(actor, registrationId, definedChanges(changes), deps));
}

/** The update itself; the caller holds the registration lock. `appVersion` records a sync to that profile version. */
export async function updateRegistrationLocked(
  actor: Actor,
  registrationId: string,
  changes: ClientMetadata,
  deps: ManageDeps,
  opts: {
    appVersion?: number;
    action?: 'registration.update' | 'registration.sync';
    /** New overrides to keep on the registration (sync with overrides), stored with the hospital's answer, and the audit row that says so. */
    overrides?: { value: RegistrationOverrides | null; audit: AuditEntry };
  } = {},
): Promise<UpdateResult> {
  const action = opts.action ?? 'registration.update';
  const op = action === 'registration.sync' ? 'sync' : 'update';
  let reg = await loadManageableRegistration(registrationId);
  const changedFields = Object.keys(changes).sort();
  if (changedFields.length === 0) throw new AppError('INVALID', 'Nothing to change.');
  // Checked before the hospital is called, so a bad URI costs no request.
  assertValidRedirectUris(changes, changes.application_type ?? reg.serverMetadata?.application_type ?? reg.registeredMetadata.application_type);
  let base: Record<string, unknown>;
  let rat: string;
  const readFirst = !hasFreshServerRecord(reg);
  if (hasFreshServerRecord(reg)) {
    base = reg.serverMetadata;
    rat = await currentRegistrationAccessToken(reg);
  } else {
    ({ reg, serverMetadata: base, rat } = await readServerRecord(actor, reg, deps, op));
  }

  let response: RegistrationResponse;
  try {
    response = await updateClientRegistration({
      registrationClientUri: reg.registrationClientUri,
      registrationAccessToken: rat,
      lastServerMetadata: base,
      changes,
      fetchInit: await managementFetchInit(deps),
    });
  } catch (error) {
    throw await failManagementCall(actor, reg, op, error, { fields: changedFields });
  }
  // Before anything else: the old token is dead once the hospital rotated it.
  const { rotated } = await persistIssuedCredentials(actor, reg, response, rat, op);

  const now = new Date();
  const authMethod = typeof response.metadata.token_endpoint_auth_method === 'string' ? response.metadata.token_endpoint_auth_method : reg.authMethod;
  const requested = requestedAfter(reg.requestedMetadata, changes);
  const findings = registrationFindings(requested, response.metadata);
  await getDb().transaction(async (tx) => {
    await tx
      .update(registrations)
      .set({
        ...serverRecordColumns(reg, response, rotated, now),
        registeredMetadata: response.metadata,
        requestedMetadata: requested,
        redirectFindingCount: findings.redirectFindingCount,
        scopeLostCount: findings.scopeLostCount,
        authMethod,
        ...(opts.appVersion !== undefined ? { appVersion: opts.appVersion } : {}),
        ...(opts.overrides ? { registrationOverrides: opts.overrides.value } : {}),
      })
      .where(eq(registrations.id, reg.id));
    if (opts.overrides) await recordAudit(tx, actor, opts.overrides.audit);
    await recordAudit(tx, actor, {
      action,
      targetType: 'registration',
      targetId: reg.id,
      details: {
        clientId: reg.clientId,
        fields: changedFields,
        readFirst,
        rotated,
        warnings: response.warnings.map((w) => w.code),
        ...(opts.appVersion !== undefined ? { appVersion: opts.appVersion, fromAppVersion: reg.appVersion } : {}),
      },
    });
  });
  return { registrationId: reg.id, changedFields, warnings: response.warnings, rotated, readFirst };
}
