import 'server-only';
import { eq, sql } from 'drizzle-orm';
import { uuidIn } from '@/db/any-of';
import { getDb } from '@/db/client';
import { appSettings, healthSystems, issuers, registrations, type Rotation } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { currentCredentialsColumn, currentFingerprintColumn, openCurrentCredentials, type StoredFingerprint } from '@/lib/credentials/store';
import { AppError, isAppError } from '@/lib/errors';
import { readClientRegistration, updateClientRegistration, type RegistrationResponse } from '@/lib/oauth/registration';
import type { OutboundPolicy } from '@/lib/oauth/safe-fetch';
import { allowlistEntriesColumn } from '@/lib/outbound/allowlist-store';
import { outboundPolicyFrom } from '@/lib/outbound/policy';
import { hasFreshServerRecord, manageableColumns, toManageable, type ManagedRegistration } from '@/lib/registrations/manage/shared';
import { findManagementRecoveryFile } from '@/lib/registrations/recovery';
import { afterStep, isBearerRefusal, isOutcomeUnknown, loadRotation, transientError, transition, waitForRecoveryImport, type Ctx, type StepResult } from './internal';
import { stepsFor } from './plan';
import { storeAnswers, type StoredAnswer } from './store-answers';
import { APP_SETTINGS_PREFIX, effectivePolicy, ISSUER_SETTINGS_PREFIX, learnUpdateIssuesSecret, rotationOverridesSchema, type RenewalPolicy } from './settings';

/**
 * Strategy (a): RFC 7592 update at a hospital that issues a new client secret in its answer.
 *
 * RFC 7592 §2.2: once the server issues a new secret the client MUST discard the old one at once —
 * it no longer works. So there is no window in which the old secret could stay current while the
 * new one is checked: the answer itself is the proof (the hospital says which secret it now holds
 * for this client_id), and the new secret becomes current in the same transaction that stores it.
 * The steps that commit: in flight with the PUT marked as sent → current.
 */

/** The registration access token to use, and the current secret's stored fingerprint with the key id it was made under (null: no secret stored). */
type Credentials = { rat: string; secretFingerprint: string | null; secretFingerprintKeyId: string | null };

/** Everything one run of the step needs, in one query: the registration, its current credentials, the outbound allowlist and the renewal overrides. */
export type UpdateContext = { reg: ManagedRegistration; used: Credentials; policy: OutboundPolicy; renewal: RenewalPolicy };

async function loadContext(registrationId: string): Promise<UpdateContext> {
  const result = (await loadContexts([registrationId])).get(registrationId);
  if (!result || 'error' in result) throw result?.error ?? new AppError('NOT_FOUND', 'That registration does not exist.');
  return result;
}

/** loadContext for many registrations in one query; a registration that cannot be managed carries its error instead. */
export async function loadContexts(registrationIds: readonly string[]): Promise<Map<string, UpdateContext | { error: AppError }>> {
  const rows = await getDb()
    .select({
      ...manageableColumns,
      // The secret itself is not needed (the answer's is compared by fingerprint, under the key the
      // stored one was made with), so it stays sealed.
      credentials: currentCredentialsColumn('registration', registrations.id, ['registration_access_token']),
      secretFingerprint: currentFingerprintColumn('registration', registrations.id, 'client_secret'),
      allowlist: allowlistEntriesColumn,
      overrides: sql<Record<string, unknown> | null>`(select json_object_agg(s.key, s.value) from ${appSettings} s
         where s.key in (${ISSUER_SETTINGS_PREFIX} || ${registrations.issuerId}::text, ${APP_SETTINGS_PREFIX} || ${registrations.appId}::text))`,
    })
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
    .where(uuidIn(registrations.id, registrationIds));
  const contexts = new Map<string, UpdateContext | { error: AppError }>();
  // A batch's registrations share the allowlist and mostly their issuer's and app's overrides:
  // each distinct one is parsed once (and the contexts share the resulting objects, read only).
  const shared = { policies: new Map<string, OutboundPolicy>(), renewals: new Map<string, RenewalPolicy>() };
  for (const row of rows) {
    try {
      contexts.set(row.registration.id, toContext(row, shared));
    } catch (error) {
      if (!isAppError(error)) throw error;
      contexts.set(row.registration.id, { error });
    }
  }
  return contexts;
}

function toContext(
  row: Parameters<typeof toManageable>[0] & { credentials: unknown; secretFingerprint: StoredFingerprint | null; allowlist: string[]; overrides: Record<string, unknown> | null },
  shared: { policies: Map<string, OutboundPolicy>; renewals: Map<string, RenewalPolicy> },
): UpdateContext {
  const reg = toManageable(row);
  const found = openCurrentCredentials('registration', row!.credentials);
  const rat = found.get('registration_access_token');
  if (!rat) {
    throw new AppError('INVALID', 'This registration has no registration access token stored, so it cannot be managed from Registrar. Ask the hospital for a new registration access token, or register again.');
  }
  const allowlistKey = JSON.stringify(row!.allowlist);
  let policy = shared.policies.get(allowlistKey);
  if (!policy) shared.policies.set(allowlistKey, (policy = outboundPolicyFrom(row!.allowlist)));
  const overrides = row!.overrides ?? {};
  const issuerKey = `${ISSUER_SETTINGS_PREFIX}${reg.issuerId}`;
  const appKey = `${APP_SETTINGS_PREFIX}${reg.appId}`;
  const renewalKey = JSON.stringify([overrides[issuerKey] ?? null, overrides[appKey] ?? null]);
  let renewal = shared.renewals.get(renewalKey);
  if (!renewal) {
    const parse = (key: string) => rotationOverridesSchema.safeParse(overrides[key] ?? {}).data;
    shared.renewals.set(renewalKey, (renewal = effectivePolicy(parse(issuerKey), parse(appKey))));
  }
  const secret = row!.secretFingerprint;
  return { reg, used: { rat: rat.plaintext, secretFingerprint: secret?.fingerprint ?? null, secretFingerprintKeyId: secret?.keyId ?? null }, policy, renewal };
}

/**
 * The base of the PUT without asking the hospital when Registrar holds its latest answer: a server
 * record read after the last change, or — never read nor updated since — the registration answer.
 */
export function latestServerAnswer(reg: ManagedRegistration): Record<string, unknown> | null {
  if (hasFreshServerRecord(reg)) return reg.serverMetadata;
  if (reg.serverMetadata === null && reg.lastCheckedAt === null) return reg.registeredMetadata;
  return null;
}

/** storeAnswers for one answer; a rotation row that moved on meanwhile is a transient conflict (re-read and retried). */
export async function storeAnswer(ctx: Ctx, rot: Rotation, context: UpdateContext, response: RegistrationResponse, used: Credentials, op: 'read' | 'update'): Promise<StoredAnswer> {
  const [stored] = await storeAnswers([{ actor: ctx.actor, rot, reg: context.reg, renewal: context.renewal, response, used, op }]);
  if (stored!.conflict) throw transientError('CONFLICT', 'The rotation was changed by another step meanwhile; it will be re-read.');
  return stored!;
}

export function finished(ctx: Ctx, rotation: Rotation): Promise<StepResult> {
  return afterStep(ctx, { rotation, step: 'current' });
}

function ratRefused(reg: ManagedRegistration, error: unknown): AppError {
  return new AppError(
    'UPSTREAM_REJECTED',
    `The hospital refused the registration access token for client ${reg.clientId} (HTTP 401), so the secret cannot be rotated by an update. Nothing was changed: the current secret still works. Ask ${reg.healthSystemName} for a new registration access token, or rotate by re-registration.`,
    { registrationId: reg.id, reason: 'rat_refused' },
    { cause: error },
  );
}

/**
 * The PUT's answer was lost (or the process died after sending it): RFC 7592 §2.1 GET tells whether
 * it took effect. A new secret there → stored as if the PUT had answered. The same secret → it did
 * not; null, and the caller sends it again. A 401 → the lost PUT rotated the registration access
 * token, so management is gone: fall back to re-registration and mark the old client for clean-up.
 */
async function recoverLostUpdate(ctx: Ctx, rot: Rotation, context: UpdateContext, used: Credentials): Promise<StepResult | null> {
  const { reg } = context;
  let read: RegistrationResponse;
  try {
    read = await readClientRegistration({ registrationClientUri: reg.registrationClientUri, registrationAccessToken: used.rat, fetchInit: { ...ctx.deps.fetchInit, policy: context.policy } });
  } catch (error) {
    if (isBearerRefusal(error)) {
      // The token was refused because the answer rotated it; when that answer is in a recovery file
      // (the database would not store it), the new token is not lost: wait for its import.
      const file = await findManagementRecoveryFile(reg.id);
      if (file) return waitForRecoveryImport(rot, reg, updateAnswerInFile(reg, file));
      return fallBackToReRegistration(ctx, rot, reg);
    }
    throw error;
  }
  if (read.clientId !== reg.clientId) throw new AppError('UPSTREAM_REJECTED', `The hospital answered for client ${read.clientId} instead of ${reg.clientId}; nothing was stored.`);
  const stored = await storeAnswer(ctx, rot, context, read, used, 'read');
  if (stored.newSecret) return finished(ctx, stored.rotation);
  return null;
}

const updateAnswerInFile = (reg: ManagedRegistration, file: string) =>
  `The hospital answered this rotation's update of client ${reg.clientId} with a new registration access token (the old one is refused now) and may have issued a new secret, but the database would not store them; they are kept encrypted in ${file}. Run \`npm run recover\` once the database is healthy: this rotation then goes on by itself (it looks again every hour). Until then the old secret may no longer work.`;

async function fallBackToReRegistration(ctx: Ctx, rot: Rotation, reg: ManagedRegistration): Promise<StepResult> {
  const now = new Date();
  const reason = [
    `During rotation ${rot.id} the answer to an RFC 7592 update was lost, and the hospital then refused the registration access token (HTTP 401) on ${now.toISOString()}: the update rotated it and the new one never arrived.`,
    `Registrar registers a new client instead. Client ${reg.clientId} can no longer be managed from Registrar: once the new client is current, ask ${reg.healthSystemName} (${reg.issuerLabel}) to delete client ${reg.clientId}.`,
  ].join('\n');
  const rotation = await getDb().transaction(async (tx) => {
    await tx.update(registrations).set({ status: 'management_lost', attentionReason: reason, lastCheckedAt: now }).where(eq(registrations.id, reg.id));
    const next = await transition(
      rot,
      {
        strategy: 're_registration',
        fallbackFrom: rot.strategy,
        putStartedAt: null,
        plan: { steps: stepsFor('re_registration'), why: `${rot.plan.why} The update’s answer was lost and the registration access token with it, so this rotation fell back to re-registration; the old client is marked for clean-up by a person.` },
        // Still in flight, with another step: this run is that step's first.
        unfinishedRuns: 1,
      },
      tx,
    );
    await recordAudit(tx, ctx.actor, { action: 'rotation.fallback', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, from: rot.strategy, to: 're_registration', reason: 'rat_lost' } });
    return next;
  });
  return afterStep(ctx, { rotation, step: 'strategy_fallback' });
}

/** Marks the PUT as sent (and the rotation in flight) in one commit, right before it leaves. */
async function markPutStarted(ctx: Ctx, rot: Rotation): Promise<Rotation> {
  const wasPlanned = rot.state !== 'in_flight';
  // Entering in flight here runs its step at once: this run is its first.
  const rotation = await transition(rot, { state: 'in_flight', putStartedAt: new Date(), ...(wasPlanned ? { error: null, nextAttemptAt: null, unfinishedRuns: 1 } : {}) });
  if (wasPlanned) await afterStep(ctx, { rotation, step: 'in_flight' });
  await afterStep(ctx, { rotation, step: 'put_started' });
  return rotation;
}

/** Runs strategy (a) from planned or in flight to current (or to a fallback, or an error for the back-off). */
export async function runUpdateStep(ctx: Ctx, rot: Rotation): Promise<StepResult> {
  let context = await loadContext(rot.registrationId);
  const { reg } = context;
  let used = context.used;
  if (rot.putStartedAt) {
    const recovered = await recoverLostUpdate(ctx, rot, context, used);
    if (recovered) return recovered;
    rot = await loadRotation(rot.id);
    context = await loadContext(rot.registrationId);
    used = context.used;
  }
  const fetchInit = { ...ctx.deps.fetchInit, policy: context.policy };
  let base = latestServerAnswer(reg);
  if (!base) {
    let read: RegistrationResponse;
    try {
      read = await readClientRegistration({ registrationClientUri: reg.registrationClientUri, registrationAccessToken: used.rat, fetchInit });
    } catch (error) {
      if (isBearerRefusal(error)) throw ratRefused(reg, error);
      throw error;
    }
    const stored = await storeAnswer(ctx, rot, context, read, used, 'read');
    if (stored.newSecret) return finished(ctx, stored.rotation);
    rot = stored.rotation;
    used = { ...used, rat: stored.rat };
    base = read.metadata;
  }
  rot = await markPutStarted(ctx, rot);

  let response: RegistrationResponse;
  try {
    // RFC 7592 §2.2: the whole record, unchanged; the server decides whether to issue a new secret.
    response = await updateClientRegistration({ registrationClientUri: reg.registrationClientUri, registrationAccessToken: used.rat, lastServerMetadata: base, changes: {}, fetchInit });
  } catch (error) {
    if (isOutcomeUnknown(error)) {
      const recovered = await recoverLostUpdate(ctx, rot, context, used);
      if (recovered) return recovered;
      throw transientError('UPSTREAM_UNREACHABLE', 'The answer to the update was lost; a read shows it did not take effect, so it will be sent again.', {}, error);
    }
    await transition(rot, { putStartedAt: null }).catch(() => {});
    if (isBearerRefusal(error)) throw ratRefused(reg, error);
    throw error;
  }
  if (response.clientId !== reg.clientId) throw new AppError('UPSTREAM_REJECTED', `The hospital answered for client ${response.clientId} instead of ${reg.clientId}; nothing was stored.`);
  let stored: StoredAnswer;
  try {
    stored = await storeAnswer(ctx, rot, context, response, used, 'update');
  } catch (error) {
    // The hospital has answered: its new secret is live and the old one void (RFC 7592 §2.2). Not a
    // failure to give up on: the PUT stays marked as sent, so the next attempt reads the
    // registration (GET) and stores the credentials it holds, as after a lost answer.
    const file = isAppError(error) ? (error.details as { recoveryFile?: string } | undefined)?.recoveryFile : undefined;
    throw transientError(
      'NEEDS_RECOVERY',
      `The hospital answered the update for client ${reg.clientId}, but Registrar could not store its answer${file ? ` (kept encrypted in ${file})` : ''}. The next attempt reads the registration at the hospital to recover the new credentials${file ? ', or waits for `npm run recover` to import the file if the hospital refuses the old registration access token' : ''}.`,
      { registrationId: reg.id, ...(file ? { recoveryFile: file } : {}) },
      error,
    );
  }
  if (stored.newSecret) return finished(ctx, stored.rotation);

  return keptOldSecret(ctx, stored.rotation, reg);
}

/** The update succeeded but the hospital kept the old secret: remember that for this issuer and re-register instead. */
export async function keptOldSecret(ctx: Ctx, rot: Rotation, reg: ManagedRegistration): Promise<StepResult> {
  await learnUpdateIssuesSecret(reg.issuerId, false);
  const rotation = await transition(rot, {
    strategy: 're_registration',
    fallbackFrom: 'rfc7592_update',
    plan: { steps: stepsFor('re_registration'), why: 'The RFC 7592 update succeeded but the hospital kept the old secret (it does not issue a new one on update), so this rotation continues by re-registration.' },
    // Still in flight, with another step: this run is that step's first.
    unfinishedRuns: 1,
  });
  await recordAudit(getDb(), ctx.actor, { action: 'rotation.fallback', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, from: 'rfc7592_update', to: 're_registration', reason: 'no_new_secret' } });
  return afterStep(ctx, { rotation, step: 'strategy_fallback' });
}
