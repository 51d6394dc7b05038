import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { healthSystems, issuers, registrations, type Registration } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { actorLabel, type Actor } from '@/lib/auth/actor';
import { readCurrentCredential, storeCredential } from '@/lib/credentials/store';
import { vaultStatus } from '@/lib/credentials/vault';
import { AppError, isAppError } from '@/lib/errors';
import { errorSummary, logger } from '@/lib/logger';
import { readClientRegistration, type RegistrationErrorInfo, type RegistrationFetchInit, type RegistrationResponse, type RegistrationWarning } from '@/lib/oauth/registration';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { writeManagementRecoveryFile } from '../recovery';
import { compareMetadataRecords } from './drift';

/** Transport overrides for tests (timeouts, resolver); the outbound policy in force is always applied. */
export type ManageDeps = { fetchInit?: Omit<RegistrationFetchInit, 'policy'> };

export type ManagementOp = 'refresh' | 'update' | 'sync' | 'delete';

/** The registration as management sees it, with what a runbook needs to name the hospital. */
export type ManagedRegistration = Registration & { registrationClientUri: string; issuerLabel: string; healthSystemName: string };

/** A credential kind that arrived with a new value and was stored as the current one. */
export type RotatedKind = 'registration_access_token' | 'client_secret';

export async function managementFetchInit(deps: ManageDeps): Promise<RegistrationFetchInit> {
  return { ...deps.fetchInit, policy: await currentOutboundPolicy() };
}

/** Refuses before anything leaves Registrar when an answer carrying credentials could not be stored. */
export function assertVaultOpen(): void {
  const vault = vaultStatus();
  if (vault.status !== 'ok') throw new AppError('VAULT_LOCKED', `Credentials cannot be stored safely, so the hospital is not called: ${vault.message}`);
}

/** The registration, if it exists, is not deleted, and the hospital offered RFC 7592 management. */
export async function loadManageableRegistration(registrationId: string): Promise<ManagedRegistration> {
  const [row] = await getDb()
    .select(manageableColumns)
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .where(eq(registrations.id, registrationId))
    .limit(1);
  return toManageable(row);
}

/** The columns toManageable needs (from registrations ⋈ issuers ⋈ health_systems), for callers that read more in the same query. */
export const manageableColumns = { registration: registrations, issuerUrl: issuers.issuerUrl, inputUrl: issuers.inputUrl, healthSystemName: healthSystems.name };

export function toManageable(row: { registration: Registration; issuerUrl: string | null; inputUrl: string; healthSystemName: string } | undefined): ManagedRegistration {
  if (!row) throw new AppError('NOT_FOUND', 'That registration does not exist.');
  const reg = row.registration;
  if (reg.status === 'deleted') {
    throw new AppError(
      'CONFLICT',
      `This registration was deleted at the hospital${reg.deletedAt ? ` on ${reg.deletedAt.toISOString()}` : ''}; it is kept for its history and cannot be managed any more.`,
    );
  }
  if (!reg.managed || !reg.registrationClientUri) {
    throw new AppError(
      'INVALID',
      'This registration cannot be managed from Registrar: the hospital did not return a registration_client_uri and registration access token (RFC 7592 management; Epic never does). Change it in the hospital’s own portal, or register again.',
    );
  }
  return { ...reg, registrationClientUri: reg.registrationClientUri, issuerLabel: row.issuerUrl ?? row.inputUrl, healthSystemName: row.healthSystemName };
}

/** The current registration access token, decrypted (for the outgoing call only). */
export async function currentRegistrationAccessToken(reg: ManagedRegistration): Promise<string> {
  const rat = await readCurrentCredential(getDb(), 'registration', reg.id, 'registration_access_token');
  if (!rat) {
    throw new AppError('INVALID', 'This registration has no registration access token stored, so it cannot be managed from Registrar. Ask the hospital for a new registration access token, or register again.');
  }
  return rat.plaintext;
}

/**
 * The server record is usable as the base of an update only when it was read after the
 * registration last changed in Registrar (RFC 7592 §2.2: PUT from the latest response).
 */
export function hasFreshServerRecord(reg: Pick<Registration, 'serverMetadata' | 'lastCheckedAt' | 'updatedAt'>): reg is typeof reg & { serverMetadata: Record<string, unknown> } {
  return reg.serverMetadata !== null && reg.lastCheckedAt !== null && reg.lastCheckedAt.getTime() >= reg.updatedAt.getTime();
}

function registrationErrorOf(error: unknown): RegistrationErrorInfo | undefined {
  if (!isAppError(error)) return undefined;
  const info = error.details?.registrationError;
  return typeof info === 'object' && info !== null ? (info as RegistrationErrorInfo) : undefined;
}

/** RFC 7592 §2: a 401 to the registration access token means the token is dead or the client was deleted upstream. */
export function isManagementLost(error: unknown): error is AppError {
  const info = registrationErrorOf(error);
  return info?.kind === 'bearer' && info.status === 401;
}

/** What a person has to ask the hospital for once the registration access token is refused. */
export function managementLostRunbook(reg: ManagedRegistration, at: Date): string {
  return [
    `The hospital refused Registrar's registration access token (HTTP 401) on ${at.toISOString()}. Registrar can no longer read, update or delete client ${reg.clientId}. The client secret Registrar holds was not changed and may still work at the token endpoint.`,
    `Ask the administrator of ${reg.healthSystemName}'s authorization server (${reg.issuerLabel}) to:`,
    `1. Confirm that client ${reg.clientId} still exists (it may have been deleted at the hospital).`,
    `2. If it exists, issue a new registration access token for it (RFC 7592) and send it through a secure channel.`,
    `3. If it no longer exists, re-register the app (Onboard a hospital) and deploy the new client_id.`,
  ].join('\n');
}

/**
 * Audits a failed RFC 7592 call. A 401 also marks the registration `management_lost` with the
 * runbook (credentials untouched). Returns the error to throw.
 */
export async function failManagementCall(actor: Actor, reg: ManagedRegistration, op: ManagementOp, error: unknown, details: Record<string, unknown> = {}): Promise<unknown> {
  const info = registrationErrorOf(error);
  const base = { action: `registration.${op}`, targetType: 'registration', targetId: reg.id } as const;
  if (isManagementLost(error)) {
    const now = new Date();
    await getDb().transaction(async (tx) => {
      await tx
        .update(registrations)
        .set({ status: 'management_lost', attentionReason: managementLostRunbook(reg, now), lastCheckedAt: now, updatedAt: now })
        .where(eq(registrations.id, reg.id));
      await recordAudit(tx, actor, { ...base, outcome: 'failure', details: { ...details, clientId: reg.clientId, error: 'MANAGEMENT_LOST', status: 401, upstreamError: info?.error ?? null } });
    });
    return new AppError(
      'UPSTREAM_REJECTED',
      `${error.message} Registrar marked this registration “management lost”; its page lists what to ask the hospital for. The client secret was not changed.`,
      { ...error.details, managementLost: true },
      { cause: error },
    );
  }
  await recordAudit(getDb(), actor, {
    ...base,
    outcome: isAppError(error) && error.code === 'FORBIDDEN' ? 'denied' : 'failure',
    details: { ...details, clientId: reg.clientId, error: isAppError(error) ? error.code : 'INTERNAL', ...(info ? { status: info.status ?? null, outcomeUnknown: info.outcomeUnknown } : {}) },
  }).catch(() => {});
  return error;
}

/**
 * RFC 7592 §3: a read or update answer may carry a new client secret and/or a new registration
 * access token, and the old ones stop working at once. They are stored (old → previous) with the
 * raw answer, in a transaction of their own, BEFORE anything else is written: a later failure
 * must not lose them. Returns the token to use for the next call.
 */
export async function persistIssuedCredentials(
  actor: Actor,
  reg: ManagedRegistration,
  response: RegistrationResponse,
  usedRat: string,
  op: ManagementOp,
): Promise<{ rat: string; rotated: RotatedKind[] }> {
  const newRat = response.registrationAccessToken !== null && response.registrationAccessToken !== usedRat ? response.registrationAccessToken : null;
  let newSecret: string | null = null;
  if (response.clientSecret !== null) {
    const current = await readCurrentCredential(getDb(), 'registration', reg.id, 'client_secret');
    if (current?.plaintext !== response.clientSecret) newSecret = response.clientSecret;
  }
  const rotated: RotatedKind[] = [...(newRat ? (['registration_access_token'] as const) : []), ...(newSecret ? (['client_secret'] as const) : [])];
  if (rotated.length === 0) return { rat: usedRat, rotated };

  const expiresAt = response.secretExpiry.kind === 'at' ? response.secretExpiry.at : null;
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await getDb().transaction(async (tx) => {
        const stored: Record<string, unknown> = {};
        if (newRat) stored.rat = await storeCredential(tx, { ownerType: 'registration', ownerId: reg.id, kind: 'registration_access_token', plaintext: newRat });
        if (newSecret) stored.clientCredential = await storeCredential(tx, { ownerType: 'registration', ownerId: reg.id, kind: 'client_secret', plaintext: newSecret, expiresAt });
        await storeCredential(tx, { ownerType: 'registration', ownerId: reg.id, kind: 'response_body', plaintext: response.rawBody });
        await recordAudit(tx, actor, {
          action: 'registration.credentials_received',
          targetType: 'registration',
          targetId: reg.id,
          details: { op, clientId: reg.clientId, rotated, versions: Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, (v as { version: number }).version])) },
        });
      });
      return { rat: newRat ?? usedRat, rotated };
    } catch (error) {
      lastError = error;
      if (attempt < 3) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
  }
  // The database would not take them: kept, encrypted, on disk for `npm run recover` (the old token
  // is dead, so asking the hospital again is the last resort, not the first).
  const what = `a new ${rotated.join(' and a new ').replace(/_/g, ' ')}`;
  let file: string | null = null;
  try {
    file = await writeManagementRecoveryFile({ registrationId: reg.id, clientId: reg.clientId, op, rat: newRat, secret: newSecret, secretExpiresAt: expiresAt?.toISOString() ?? null, actor: actorLabel(actor) });
  } catch (writeError) {
    logger.error({ registrationId: reg.id, err: errorSummary(writeError) }, 'management answer not saved and no recovery file written');
  }
  throw new AppError(
    'NEEDS_RECOVERY',
    file
      ? `The hospital issued ${what} for client ${reg.clientId}, but the database would not store it; it is kept encrypted in ${file}. Run \`npm run recover\` once the database is healthy.`
      : `The hospital issued ${what} for client ${reg.clientId}, but Registrar could neither store it nor write its recovery file${newRat ? '; the old registration access token no longer works, so ask the hospital for a new one' : ''}.`,
    { registrationId: reg.id, rotated, ...(file ? { recoveryFile: file } : {}) },
    { cause: lastError },
  );
}

/** The registration columns that record a server answer (RFC 7592 read or update). */
export function serverRecordColumns(reg: ManagedRegistration, response: RegistrationResponse, rotated: readonly RotatedKind[], now: Date) {
  const expiry = response.secretExpiry;
  return {
    serverMetadata: response.metadata,
    // RFC 7592 §3: the URI is used exactly as the server last gave it.
    registrationClientUri: response.registrationClientUri ?? reg.registrationClientUri,
    lastCheckedAt: now,
    updatedAt: now,
    // A secret in the answer comes with its expiry; no secret in a read/update answer means "unchanged".
    ...(expiry.kind !== 'none' ? { secretExpiryKind: expiry.kind, secretExpiresAt: expiry.kind === 'at' ? expiry.at : null } : {}),
    ...(rotated.includes('client_secret') ? { lastRotatedAt: now } : {}),
    // The token works again: whatever lost management was fixed.
    ...(reg.status === 'management_lost' ? { status: 'active' as const, attentionReason: null } : {}),
  };
}

export type ServerRead = {
  reg: ManagedRegistration;
  serverMetadata: Record<string, unknown>;
  /** The registration access token to use next (the new one when the answer rotated it). */
  rat: string;
  rotated: RotatedKind[];
  warnings: RegistrationWarning[];
  checkedAt: Date;
};

/**
 * RFC 7592 §2.1: GET the registration, store new credentials first, then the server's record
 * (secrets removed) and the time of the check, audited as `registration.refresh`. Call under
 * withRegistrationLock. `trigger` says which operation needed the read.
 */
export async function readServerRecord(actor: Actor, reg: ManagedRegistration, deps: ManageDeps, trigger: ManagementOp): Promise<ServerRead> {
  const usedRat = await currentRegistrationAccessToken(reg);
  let response: RegistrationResponse;
  try {
    response = await readClientRegistration({ registrationClientUri: reg.registrationClientUri, registrationAccessToken: usedRat, fetchInit: await managementFetchInit(deps) });
  } catch (error) {
    throw await failManagementCall(actor, reg, 'refresh', error, { trigger });
  }
  if (response.clientId !== reg.clientId) {
    const error = new AppError('UPSTREAM_REJECTED', `The hospital answered for client ${response.clientId} instead of ${reg.clientId}; nothing was stored. Check the registration_client_uri with the hospital.`);
    throw await failManagementCall(actor, reg, 'refresh', error, { trigger });
  }
  const { rat, rotated } = await persistIssuedCredentials(actor, reg, response, usedRat, trigger);
  const now = new Date();
  const columns = serverRecordColumns(reg, response, rotated, now);
  const drifted = compareMetadataRecords(reg.registeredMetadata, response.metadata).filter((d) => d.differs).map((d) => d.field);
  await getDb().transaction(async (tx) => {
    await tx.update(registrations).set(columns).where(eq(registrations.id, reg.id));
    await recordAudit(tx, actor, {
      action: 'registration.refresh',
      targetType: 'registration',
      targetId: reg.id,
      details: { trigger, clientId: reg.clientId, driftFields: drifted, rotated, warnings: response.warnings.map((w) => w.code) },
    });
  });
  return { reg: { ...reg, ...columns }, serverMetadata: response.metadata, rat, rotated, warnings: response.warnings, checkedAt: now };
}
