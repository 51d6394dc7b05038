import 'server-only';
import { eq, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { auditLog, registrations, type Rotation } from '@/db/schema';
import { auditRow, recordAudit } from '@/lib/audit/record';
import { readCurrentCredentials, replaceCurrentCredentials } from '@/lib/credentials/store';
import { fingerprintSecret } from '@/lib/credentials/vault';
import { AppError } from '@/lib/errors';
import { readClientRegistration, updateClientRegistration, type RegistrationResponse } from '@/lib/oauth/registration';
import { hasFreshServerRecord, loadManageableRegistration, managementFetchInit, type ManagedRegistration } from '@/lib/registrations/manage/shared';
import { afterStep, isBearerRefusal, isOutcomeUnknown, loadRotation, transientError, transition, type Ctx, type StepResult } from './internal';
import { stepsFor } from './plan';
import { refreshRenewals } from './renewals';
import { learnUpdateIssuesSecret } from './settings';

/**
 * Strategy (a): RFC 7592 update at a hospital that issues a new client secret in its answer.
 *
 * RFC 7592 §2.2: once the server issues a new secret the client MUST discard the old one at once —
 * it no longer works. So there is no window in which the old secret could stay current while the
 * new one is checked: the answer itself is the proof (the hospital says which secret it now holds
 * for this client_id), and the new secret becomes current in the same transaction that stores it.
 * The steps that commit: in flight with the PUT marked as sent → current.
 */

const VERIFIED_BY = 'hospital answer (RFC 7592 update)';

type Credentials = { rat: string; secretFingerprint: string | null };

async function currentCredentials(reg: ManagedRegistration): Promise<Credentials> {
  const found = await readCurrentCredentials(getDb(), 'registration', reg.id, ['registration_access_token', 'client_secret']);
  const rat = found.get('registration_access_token');
  if (!rat) {
    throw new AppError('INVALID', 'This registration has no registration access token stored, so it cannot be managed from Registrar. Ask the hospital for a new registration access token, or register again.');
  }
  return { rat: rat.plaintext, secretFingerprint: found.get('client_secret')?.fingerprint ?? null };
}

/**
 * The base of the PUT without asking the hospital when Registrar holds its latest answer: a server
 * record read after the last change, or — never read nor updated since — the registration answer.
 */
function latestServerAnswer(reg: ManagedRegistration): Record<string, unknown> | null {
  if (hasFreshServerRecord(reg)) return reg.serverMetadata;
  if (reg.serverMetadata === null && reg.lastCheckedAt === null) return reg.registeredMetadata;
  return null;
}

/**
 * Stores what an answer (PUT, or the GET that recovers a lost PUT) carried, before anything else:
 * a new registration access token (the old one is dead), a new secret and the raw body. With a new
 * secret the rotation is done in the same transaction: secret current, old one previous, the
 * registration's expiry and server record updated, the rotation current.
 */
async function storeAnswer(ctx: Ctx, rot: Rotation, reg: ManagedRegistration, response: RegistrationResponse, used: Credentials, op: 'read' | 'update') {
  const newRat = response.registrationAccessToken !== null && response.registrationAccessToken !== used.rat ? response.registrationAccessToken : null;
  const newSecret = response.clientSecret !== null && fingerprintSecret(response.clientSecret) !== used.secretFingerprint ? response.clientSecret : null;
  const expiry = response.secretExpiry;
  const items = [
    ...(newRat ? [{ kind: 'registration_access_token' as const, plaintext: newRat }] : []),
    ...(newSecret ? [{ kind: 'client_secret' as const, plaintext: newSecret, expiresAt: expiry.kind === 'at' ? expiry.at : null }] : []),
  ];
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const rotation = await getDb().transaction(async (tx) => {
        const stored = items.length ? await replaceCurrentCredentials(tx, 'registration', reg.id, [...items, { kind: 'response_body', plaintext: response.rawBody }]) : [];
        const secret = stored.find((s) => s.kind === 'client_secret');
        const now = sql`now()`;
        await tx
          .update(registrations)
          .set({
            // RFC 7592 §3: the URI is used exactly as the server last gave it; its answer is the freshest server record.
            registrationClientUri: response.registrationClientUri ?? reg.registrationClientUri,
            serverMetadata: response.metadata,
            lastCheckedAt: now,
            updatedAt: now,
            ...(secret
              ? {
                  secretExpiryKind: expiry.kind,
                  secretExpiresAt: expiry.kind === 'at' ? expiry.at : null,
                  lastRotatedAt: now,
                  ...(reg.status === 'needs_attention' ? { status: 'active' as const, attentionReason: null } : {}),
                }
              : {}),
          })
          .where(eq(registrations.id, reg.id));
        const next = await transition(
          rot,
          secret
            ? {
                state: 'current',
                newCredentialId: secret.id,
                newExpiry: { kind: expiry.kind, at: expiry.kind === 'at' ? expiry.at.toISOString() : null },
                verifiedBy: VERIFIED_BY,
                putStartedAt: null,
                nextAttemptAt: null,
                error: null,
                finishedAt: new Date(),
              }
            : { putStartedAt: null },
          tx,
        );
        if (stored.length) {
          const rotated = stored.filter((s) => s.kind !== 'response_body').map((s) => s.kind);
          await tx.insert(auditLog).values([
            auditRow(ctx.actor, { action: 'rotation.credentials_received', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, op, clientId: reg.clientId, rotated, ...(secret ? { version: secret.version } : {}) } }),
            ...(secret
              ? [auditRow(ctx.actor, { action: 'rotation.switch', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, strategy: rot.strategy, newCredentialId: secret.id, verifiedBy: VERIFIED_BY } })]
              : []),
          ]);
        }
        return next;
      });
      return { rotation, newSecret: newSecret !== null, rat: newRat ?? used.rat };
    } catch (error) {
      lastError = error;
      if (attempt < 3) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
  }
  throw new AppError(
    'NEEDS_RECOVERY',
    `The hospital answered with new credentials for client ${reg.clientId} but Registrar could not store them${newRat ? '; the old registration access token no longer works, so ask the hospital for a new one' : ''}.`,
    { registrationId: reg.id },
    { cause: lastError },
  );
}

async function finished(ctx: Ctx, reg: ManagedRegistration, rotation: Rotation): Promise<StepResult> {
  await refreshRenewals([reg.id]).catch(() => {});
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
async function recoverLostUpdate(ctx: Ctx, rot: Rotation, reg: ManagedRegistration, used: Credentials): Promise<StepResult | null> {
  let read: RegistrationResponse;
  try {
    read = await readClientRegistration({ registrationClientUri: reg.registrationClientUri, registrationAccessToken: used.rat, fetchInit: await managementFetchInit(ctx.deps) });
  } catch (error) {
    if (isBearerRefusal(error)) return fallBackToReRegistration(ctx, rot, reg);
    throw error;
  }
  if (read.clientId !== reg.clientId) throw new AppError('UPSTREAM_REJECTED', `The hospital answered for client ${read.clientId} instead of ${reg.clientId}; nothing was stored.`);
  const stored = await storeAnswer(ctx, rot, reg, read, used, 'read');
  if (stored.newSecret) return finished(ctx, reg, stored.rotation);
  return null;
}

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
  const rotation = await transition(rot, { state: 'in_flight', putStartedAt: new Date(), ...(wasPlanned ? { error: null, nextAttemptAt: null } : {}) });
  if (wasPlanned) await afterStep(ctx, { rotation, step: 'in_flight' });
  await afterStep(ctx, { rotation, step: 'put_started' });
  return rotation;
}

/** Runs strategy (a) from planned or in flight to current (or to a fallback, or an error for the back-off). */
export async function runUpdateStep(ctx: Ctx, rot: Rotation): Promise<StepResult> {
  const reg = await loadManageableRegistration(rot.registrationId);
  let used = await currentCredentials(reg);
  if (rot.putStartedAt) {
    const recovered = await recoverLostUpdate(ctx, rot, reg, used);
    if (recovered) return recovered;
    rot = await loadRotation(rot.id);
    used = await currentCredentials(reg);
  }
  const fetchInit = await managementFetchInit(ctx.deps);
  let base = latestServerAnswer(reg);
  if (!base) {
    let read: RegistrationResponse;
    try {
      read = await readClientRegistration({ registrationClientUri: reg.registrationClientUri, registrationAccessToken: used.rat, fetchInit });
    } catch (error) {
      if (isBearerRefusal(error)) throw ratRefused(reg, error);
      throw error;
    }
    const stored = await storeAnswer(ctx, rot, reg, read, used, 'read');
    if (stored.newSecret) return finished(ctx, reg, stored.rotation);
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
      const recovered = await recoverLostUpdate(ctx, rot, reg, used);
      if (recovered) return recovered;
      throw transientError('UPSTREAM_UNREACHABLE', 'The answer to the update was lost; a read shows it did not take effect, so it will be sent again.', {}, error);
    }
    await transition(rot, { putStartedAt: null }).catch(() => {});
    if (isBearerRefusal(error)) throw ratRefused(reg, error);
    throw error;
  }
  if (response.clientId !== reg.clientId) throw new AppError('UPSTREAM_REJECTED', `The hospital answered for client ${response.clientId} instead of ${reg.clientId}; nothing was stored.`);
  const stored = await storeAnswer(ctx, rot, reg, response, used, 'update');
  if (stored.newSecret) return finished(ctx, reg, stored.rotation);

  // The update kept the old secret: remember that for this issuer and re-register instead.
  await learnUpdateIssuesSecret(reg.issuerId, false);
  const rotation = await transition(stored.rotation, {
    strategy: 're_registration',
    fallbackFrom: 'rfc7592_update',
    plan: { steps: stepsFor('re_registration'), why: 'The RFC 7592 update succeeded but the hospital kept the old secret (it does not issue a new one on update), so this rotation continues by re-registration.' },
  });
  await recordAudit(getDb(), ctx.actor, { action: 'rotation.fallback', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, from: 'rfc7592_update', to: 're_registration', reason: 'no_new_secret' } });
  return afterStep(ctx, { rotation, step: 'strategy_fallback' });
}
