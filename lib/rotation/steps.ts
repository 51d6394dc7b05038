import 'server-only';
import { and, eq, ne, notInArray, sql } from 'drizzle-orm';
import { getDb, type Tx } from '@/db/client';
import { appKeys, credentials, issuers, registrationOperations, registrations, rotations, type Registration, type Rotation } from '@/db/schema';
import { getAppOrThrow } from '@/lib/apps/queries';
import { readAppPrivateKey } from '@/lib/apps/keys';
import { recordAudit } from '@/lib/audit/record';
import { promoteCredential, readCredentialById, readCurrentCredential, storeCredential } from '@/lib/credentials/store';
import { AppError, isAppError } from '@/lib/errors';
import { generateClientKeyPair, requestClientCredentialsToken, type TokenEndpointAuth } from '@/lib/oauth/registration';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import type { RegistrationOverrides } from '@/lib/registrations/build-request';
import { findRecoveryFile } from '@/lib/registrations/recovery';
import { registerApp } from '@/lib/registrations/register';
import { afterStep, isBearerRefusal, transientError, transition, waitForRecoveryImport, type Ctx, type StepResult } from './internal';
import { canVerifyByTokenRequest, isHostedJwksUri } from './plan';

/**
 * Set in the switch's own transaction: the registration is no longer due (its old renewal time has
 * passed) and is marked for recomputation (no basis matches registrations_renew_stale_idx), so the
 * next scan computes its renewal even if the refresh right after the switch never runs (a crash).
 * Without it a key rollover, whose expiry kind never changes, stayed due and was started again.
 */
const RENEWAL_TO_RECOMPUTE = { renewAt: null, renewBasisKind: null, renewBasisAt: null } as const;

/** How long an intent row may stay in flight before a resume treats its outcome as unknown. */
const IN_FLIGHT_STALE_MS = 120_000;

async function registrationRow(id: string): Promise<Registration> {
  const [row] = await getDb().select().from(registrations).where(eq(registrations.id, id)).limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'The registration of this rotation no longer exists.');
  return row;
}

// (a) RFC 7592 update: update-step.ts

// ---------------------------------------------------------------------------------------------
// Keys: a new key for key rollover (published as "next") or for a new registration (made active)

async function keyAlgorithmFor(ctx: Ctx, reg: Registration): Promise<'RS384' | 'ES384'> {
  if (reg.appKeyId) {
    const [key] = await getDb().select({ alg: appKeys.alg }).from(appKeys).where(eq(appKeys.id, reg.appKeyId)).limit(1);
    if (key?.alg === 'RS384' || key?.alg === 'ES384') return key.alg;
  }
  const app = await getAppOrThrow(ctx.actor, reg.appId);
  return app.profile.environments[reg.environment]?.keyAlgorithm ?? 'ES384';
}

/**
 * Generates the new key and stores its private half in the vault, in one transaction with the
 * rotation's progress. For key rollover it is published beside the old one (`next`); for a new
 * registration it becomes the app's active key (registration uses the active key), and the old
 * active key stays published as `next` for the registrations that still sign with it.
 */
async function prepareKey(ctx: Ctx, rot: Rotation, reg: Registration, mode: 'publish' | 'activate'): Promise<StepResult> {
  const alg = mode === 'publish' ? await keyAlgorithmFor(ctx, reg) : await profileKeyAlgorithm(ctx, reg);
  const generated = await generateClientKeyPair(alg);
  const rotation = await getDb().transaction(async (tx) => {
    // The same lock ensureAppKey takes: no second active key appears meanwhile.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`app-key:${reg.appId}:${reg.environment}:client_auth:${alg}`}))`);
    if (mode === 'activate') {
      await tx
        .update(appKeys)
        .set({ state: 'next' })
        .where(and(eq(appKeys.appId, reg.appId), eq(appKeys.environment, reg.environment), eq(appKeys.purpose, 'client_auth'), eq(appKeys.alg, alg), eq(appKeys.state, 'active')));
    }
    const shared = mode === 'publish' ? await siblingRolloverKey(tx, rot, reg, alg) : null;
    if (shared) {
      const next = await transition(rot, { newAppKeyId: shared.id, oldAppKeyId: reg.appKeyId, state: 'new_credential_stored', newExpiry: { kind: 'none', at: null }, nextAttemptAt: null }, tx);
      await recordAudit(tx, ctx.actor, { action: 'rotation.key_shared', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, kid: shared.kid, alg, withRotationId: shared.rotationId } });
      return next;
    }
    const [row] = await tx
      .insert(appKeys)
      .values({ appId: reg.appId, environment: reg.environment, purpose: 'client_auth', kid: generated.kid, alg, publicJwk: generated.publicJwk as Record<string, unknown>, state: mode === 'publish' ? 'next' : 'active' })
      .returning({ id: appKeys.id });
    await storeCredential(tx, { ownerType: 'app_key', ownerId: row!.id, kind: 'private_key', plaintext: generated.privateKeyPkcs8Pem });
    const next = await transition(
      rot,
      mode === 'publish'
        ? { newAppKeyId: row!.id, oldAppKeyId: reg.appKeyId, state: 'new_credential_stored', newExpiry: { kind: 'none', at: null }, nextAttemptAt: null }
        : { newAppKeyId: row!.id, oldAppKeyId: reg.appKeyId },
      tx,
    );
    await recordAudit(tx, ctx.actor, { action: 'rotation.key_created', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, kid: generated.kid, alg, published: true, active: mode === 'activate' } });
    return next;
  });
  return afterStep(ctx, { rotation, step: mode === 'publish' ? 'new_credential_stored' : 'key_prepared' });
}

/**
 * The new key of another registration's key rollover from the same old key, still waiting to be
 * switched to: registrations that share a hosted JWKS fall due together, and each rolling over on
 * its own would publish a key per registration and leave all but the last switched one unused.
 * They share the first one's key instead (each still verifies it at its own hospital). Called under
 * prepareKey's lock, so two siblings cannot both miss each other.
 */
async function siblingRolloverKey(tx: Tx, rot: Rotation, reg: Registration, alg: string) {
  if (!reg.appKeyId) return null;
  const [row] = await tx
    .select({ id: appKeys.id, kid: appKeys.kid, rotationId: rotations.id })
    .from(rotations)
    .innerJoin(appKeys, eq(appKeys.id, rotations.newAppKeyId))
    .where(
      and(
        eq(rotations.strategy, 'key_rollover'),
        eq(rotations.oldAppKeyId, reg.appKeyId),
        ne(rotations.id, rot.id),
        notInArray(rotations.state, ['current', 'failed']),
        eq(appKeys.state, 'next'),
        eq(appKeys.alg, alg),
      ),
    )
    .orderBy(rotations.createdAt)
    .limit(1);
  return row ?? null;
}

async function profileKeyAlgorithm(ctx: Ctx, reg: Registration): Promise<'RS384' | 'ES384'> {
  const app = await getAppOrThrow(ctx.actor, reg.appId);
  return app.profile.environments[reg.environment]?.keyAlgorithm ?? 'ES384';
}

/** (c) Key rollover: publish a new key beside the old one. */
export async function runKeyPublishStep(ctx: Ctx, rot: Rotation): Promise<StepResult> {
  const reg = await registrationRow(rot.registrationId);
  return prepareKey(ctx, rot, reg, 'publish');
}

// ---------------------------------------------------------------------------------------------
// (b) re-registration and (d) new registration with a new key

function idempotencyKey(rot: Pick<Rotation, 'id' | 'registerAttempt'>): string {
  return `rotation:${rot.id}:${rot.registerAttempt}`;
}

/**
 * Registers the replacement client through registerApp with an idempotency key derived from the
 * rotation: a resume after a crash finds the intent row and its result instead of registering
 * twice. A definite refusal (intent row `failed`) lets the next attempt use a new key; a request
 * that may have reached the hospital (in flight too long, outcome unknown) is never repeated.
 */
const replacementInFile = (file: string) =>
  `The hospital registered the new client, but Registrar could not store it; its answer is kept encrypted in ${file}. Run \`npm run recover\` once the database is healthy: this rotation then goes on with that client by itself (it looks again every hour). The old credential is still current.`;

export async function runRegisterStep(ctx: Ctx, rot: Rotation): Promise<StepResult> {
  const reg = await registrationRow(rot.registrationId);
  const needsNewKey = rot.strategy === 'new_registration' || reg.authMethod === 'private_key_jwt';
  if (needsNewKey && !rot.newAppKeyId) {
    ({ rotation: rot } = await prepareKey(ctx, rot, reg, 'activate'));
  }
  let key = idempotencyKey(rot);
  let [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, key)).limit(1);
  if (op?.status === 'failed') {
    rot = await transition(rot, { registerAttempt: rot.registerAttempt + 1 });
    key = idempotencyKey(rot);
    [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, key)).limit(1);
  }
  let newRegistrationId: string | null = null;
  if (op) {
    if (op.status === 'succeeded' && op.registrationId) {
      newRegistrationId = op.registrationId;
    } else if (op.status === 'pending' || op.status === 'in_flight') {
      if (Date.now() - op.updatedAt.getTime() < IN_FLIGHT_STALE_MS) throw transientError('CONFLICT', 'The new client is being registered by another run of this rotation.');
      throw new AppError(
        'NEEDS_RECOVERY',
        `The registration request of this rotation (operation ${op.id}) was interrupted while in flight: Registrar cannot tell whether the hospital registered a new client. Look for a second client of this app at the hospital and delete it if present, then start a new rotation.`,
        { operationId: op.id },
      );
    } else {
      const file = op.status === 'needs_recovery' ? await findRecoveryFile(op.id) : null;
      if (file) return waitForRecoveryImport(rot, reg, replacementInFile(file));
      throw new AppError('NEEDS_RECOVERY', `${op.error?.message ?? `The registration of the new client ended as ${op.status}.`} (operation ${op.id})`, { operationId: op.id });
    }
  }
  if (!newRegistrationId) {
    if (rot.strategy === 'new_registration' && !ctx.initialAccessToken) {
      const rotation = await transition(rot, { state: 'waiting_for_initial_access_token' });
      return afterStep(ctx, { rotation, step: 'waiting_for_initial_access_token' });
    }
    if (reg.softwareStatementMode === 'provided') {
      throw new AppError(
        'INVALID',
        'This client was registered with a software statement that a person pasted: Registrar cannot make it again, so it cannot register the replacement by itself. Register a new client from the onboarding page with a current statement, then delete this one.',
      );
    }
    // An initial access token is good for one attempt: a refused one is not tried again in this run.
    const initialAccessToken = ctx.initialAccessToken;
    ctx.initialAccessToken = null;
    try {
      const result = await registerApp(
        ctx.actor,
        {
          issuerId: reg.issuerId,
          appId: reg.appId,
          environment: reg.environment,
          idempotencyKey: key,
          initialAccessToken,
          // The replacement is the client the person registered: the profile with their changes, signed the same way.
          overrides: (reg.registrationOverrides as RegistrationOverrides | null) ?? undefined,
          softwareStatement: reg.softwareStatementMode ?? undefined,
        },
        { fetchInit: ctx.deps.fetchInit, guardUnresolved: false },
      );
      newRegistrationId = result.registrationId;
    } catch (error) {
      if (isAppError(error) && error.code === 'NEEDS_RECOVERY') {
        // Registered at the hospital, not stored here, kept in a recovery file: wait for its import.
        const [failed] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.idempotencyKey, key)).limit(1);
        const file = failed?.status === 'needs_recovery' ? await findRecoveryFile(failed.id) : null;
        if (file) return waitForRecoveryImport(rot, reg, replacementInFile(file));
      }
      if (isBearerRefusal(error)) {
        // The hospital wants a (new) initial access token: ops supply one and the rotation resumes.
        const message = error instanceof AppError ? error.message : 'The hospital requires an initial access token.';
        const rotation = await transition(rot, { state: 'waiting_for_initial_access_token', error: { code: 'UPSTREAM_REJECTED', message, at: new Date().toISOString() } });
        return afterStep(ctx, { rotation, step: 'waiting_for_initial_access_token' });
      }
      throw error;
    }
  }
  const rotation = await getDb().transaction(async (tx) => {
    const [created] = await tx
      .update(registrations)
      .set({ replacesRegistrationId: reg.id, rotationPolicy: reg.rotationPolicy })
      .where(eq(registrations.id, newRegistrationId!))
      .returning({ secretExpiryKind: registrations.secretExpiryKind, secretExpiresAt: registrations.secretExpiresAt, clientId: registrations.clientId });
    const [secret] = await tx
      .select({ id: credentials.id })
      .from(credentials)
      .where(and(eq(credentials.ownerType, 'registration'), eq(credentials.ownerId, newRegistrationId!), eq(credentials.kind, 'client_secret'), eq(credentials.state, 'current')))
      .limit(1);
    const next = await transition(
      rot,
      {
        state: 'new_credential_stored',
        newRegistrationId,
        newCredentialId: secret?.id ?? null,
        newExpiry: created ? { kind: created.secretExpiryKind, at: created.secretExpiresAt?.toISOString() ?? null } : null,
        nextAttemptAt: null,
        error: null,
      },
      tx,
    );
    await recordAudit(tx, ctx.actor, { action: 'rotation.registered', targetType: 'registration', targetId: reg.id, details: { rotationId: rot.id, newRegistrationId, newClientId: created?.clientId ?? null } });
    return next;
  });
  return afterStep(ctx, { rotation, step: 'new_credential_stored' });
}

// ---------------------------------------------------------------------------------------------
// Verification: a token request with the new credential, where the registration allows it

export async function runVerifyStep(ctx: Ctx, rot: Rotation): Promise<StepResult> {
  const targetId = rot.newRegistrationId ?? rot.registrationId;
  const [row] = await getDb()
    .select({ reg: registrations, issuer: issuers })
    .from(registrations)
    .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
    .where(eq(registrations.id, targetId))
    .limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'The registration to verify no longer exists.');
  if (!canVerifyByTokenRequest(row.reg, row.issuer)) {
    const rotation = await transition(rot, { state: 'waiting_for_verification', nextAttemptAt: null });
    return afterStep(ctx, { rotation, step: 'waiting_for_verification' });
  }
  const auth = await verificationAuth(rot, row.reg);
  try {
    await requestClientCredentialsToken({
      tokenEndpoint: row.issuer.endpoints.token!.value,
      clientId: row.reg.clientId,
      auth,
      fetchInit: { policy: await currentOutboundPolicy(), ...ctx.deps.fetchInit },
    });
  } catch (error) {
    // A new key may not be in the verifier's cached JWKS yet, a new client may take a moment: retried with back-off.
    const message = error instanceof AppError ? error.message : 'The token request failed.';
    throw transientError('UPSTREAM_REJECTED', `The new credential did not work yet: ${message}`, { step: 'verify' }, error);
  }
  const rotation = await transition(rot, { state: 'verified', verifiedBy: 'token request (client_credentials)', nextAttemptAt: null, error: null });
  await recordAudit(getDb(), ctx.actor, { action: 'rotation.verified', targetType: 'registration', targetId: rot.registrationId, details: { rotationId: rot.id, by: 'token_request' } });
  return afterStep(ctx, { rotation, step: 'verified' });
}

async function verificationAuth(rot: Rotation, target: Registration): Promise<TokenEndpointAuth> {
  const keyId = rot.strategy === 'key_rollover' ? rot.newAppKeyId : target.authMethod === 'private_key_jwt' ? target.appKeyId : null;
  if (keyId) {
    const [key] = await getDb().select({ kid: appKeys.kid, alg: appKeys.alg }).from(appKeys).where(eq(appKeys.id, keyId)).limit(1);
    if (!key || (key.alg !== 'RS384' && key.alg !== 'ES384')) throw new AppError('INVALID', 'The new signing key is missing or uses an algorithm Registrar does not sign with.');
    return { method: 'private_key_jwt', privateKeyPkcs8Pem: await readAppPrivateKey(keyId), alg: key.alg, kid: key.kid };
  }
  const secret =
    rot.strategy === 'rfc7592_update' && rot.newCredentialId
      ? await readCredentialById(getDb(), rot.newCredentialId)
      : await readCurrentCredential(getDb(), 'registration', target.id, 'client_secret');
  if (!secret) throw new AppError('INVALID', 'There is no new secret to verify.');
  return { method: target.authMethod === 'client_secret_post' ? 'client_secret_post' : 'client_secret_basic', secret: secret.plaintext };
}

// ---------------------------------------------------------------------------------------------
// The switch: one transaction makes the new credential the one Registrar calls current

export async function runSwitchStep(ctx: Ctx, rot: Rotation): Promise<StepResult> {
  const now = new Date();
  const t = ctx.timings;
  const rotation = await getDb().transaction(async (tx) => {
    // A key rollover's switch also moves the registrations sharing the old key: two such switches
    // locking their own registration first and then each other's would deadlock, so they take turns.
    if (rot.strategy === 'key_rollover' && rot.oldAppKeyId) await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`key-rollover-switch:${rot.oldAppKeyId}`}))`);
    const [reg] = await tx.select().from(registrations).where(eq(registrations.id, rot.registrationId)).for('update');
    if (!reg) throw new AppError('NOT_FOUND', 'The registration of this rotation no longer exists.');
    let cleanupAt: Date | null = null;
    if (rot.strategy === 'rfc7592_update') {
      if (!rot.newCredentialId) throw new AppError('INVALID', 'There is no new secret to make current.');
      await promoteCredential(tx, rot.newCredentialId);
      const expiry = rot.newExpiry ?? { kind: 'unknown' as const, at: null };
      await tx
        .update(registrations)
        .set({
          secretExpiryKind: expiry.kind === 'none' ? 'unknown' : expiry.kind,
          secretExpiresAt: expiry.kind === 'at' && expiry.at ? new Date(expiry.at) : null,
          lastRotatedAt: now,
          updatedAt: now,
          ...RENEWAL_TO_RECOMPUTE,
          ...(reg.status === 'needs_attention' ? { status: 'active' as const, attentionReason: null } : {}),
        })
        .where(eq(registrations.id, reg.id));
    } else if (rot.strategy === 'key_rollover') {
      if (!rot.newAppKeyId) throw new AppError('INVALID', 'There is no new key to switch to.');
      // Every other active key of the app and environment stays published (as `next`) for the cache window.
      await tx
        .update(appKeys)
        .set({ state: 'next' })
        .where(and(eq(appKeys.appId, reg.appId), eq(appKeys.environment, reg.environment), eq(appKeys.purpose, 'client_auth'), eq(appKeys.state, 'active'), ne(appKeys.id, rot.newAppKeyId)));
      await tx.update(appKeys).set({ state: 'active', retiredAt: null }).where(eq(appKeys.id, rot.newAppKeyId));
      // Every registration that reads the same hosted JWKS and signed with the old key switches too.
      if (rot.oldAppKeyId) {
        const sharing = await tx
          .select({ id: registrations.id, appId: registrations.appId, environment: registrations.environment, registered: registrations.registeredMetadata, requested: registrations.requestedMetadata })
          .from(registrations)
          .where(and(eq(registrations.appKeyId, rot.oldAppKeyId), ne(registrations.status, 'deleted')));
        const hosted = sharing.filter((r) => isHostedJwksUri(r.registered.jwks_uri ?? r.requested.jwks_uri, r.appId, r.environment)).map((r) => r.id);
        // They are rotated too (their key is new): without it each would start a rollover of its own when due.
        for (const id of hosted) await tx.update(registrations).set({ appKeyId: rot.newAppKeyId, lastRotatedAt: now, ...RENEWAL_TO_RECOMPUTE }).where(eq(registrations.id, id));
      }
      await tx
        .update(registrations)
        .set({ appKeyId: rot.newAppKeyId, lastRotatedAt: now, ...RENEWAL_TO_RECOMPUTE, ...(reg.status === 'needs_attention' ? { status: 'active' as const, attentionReason: null } : {}) })
        .where(eq(registrations.id, reg.id));
      cleanupAt = new Date(now.getTime() + t.keyCacheSeconds * 1000);
    } else {
      if (!rot.newRegistrationId) throw new AppError('INVALID', 'There is no new registration to switch to.');
      // A client deleted (or lost) since it was registered must not become the one Registrar hands
      // out: the switch would also schedule the old client's deletion, leaving none that works.
      const [target] = await tx.select({ status: registrations.status, clientId: registrations.clientId }).from(registrations).where(eq(registrations.id, rot.newRegistrationId)).for('update');
      if (!target || (target.status !== 'active' && target.status !== 'needs_attention')) {
        throw new AppError(
          'INVALID',
          `The new client registered by this rotation (${target ? `client ${target.clientId}, now ${target.status.replace(/_/g, ' ')}` : 'its registration is gone'}) cannot be switched to. The old credential stays current; start a new rotation.`,
          { newRegistrationId: rot.newRegistrationId },
        );
      }
      // Exactly one current secret across the old and the new client: the old one becomes previous.
      await tx
        .update(credentials)
        .set({ state: 'previous' })
        .where(and(eq(credentials.ownerType, 'registration'), eq(credentials.ownerId, reg.id), eq(credentials.kind, 'client_secret'), eq(credentials.state, 'current')));
      cleanupAt = new Date(now.getTime() + t.graceSeconds * 1000);
      // The replaced client keeps working through its grace period: whatever this rotation's earlier
      // runs flagged on it (a failure, a stall) is resolved now; a failed clean-up flags it anew.
      await tx
        .update(registrations)
        .set({ replacedByRegistrationId: rot.newRegistrationId, retiringUntil: cleanupAt, ...(reg.status === 'needs_attention' ? { status: 'active' as const, attentionReason: null } : {}) })
        .where(eq(registrations.id, reg.id));
      await tx.update(registrations).set({ lastRotatedAt: now, ...RENEWAL_TO_RECOMPUTE }).where(eq(registrations.id, rot.newRegistrationId));
    }
    const next = await transition(rot, { state: 'current', finishedAt: now, nextAttemptAt: null, error: null, cleanupAt }, tx);
    await recordAudit(tx, ctx.actor, {
      action: 'rotation.switch',
      targetType: 'registration',
      targetId: reg.id,
      details: { rotationId: rot.id, strategy: rot.strategy, newRegistrationId: rot.newRegistrationId, newCredentialId: rot.newCredentialId, newAppKeyId: rot.newAppKeyId, cleanupAt: cleanupAt?.toISOString() ?? null },
    });
    return next;
  });
  return afterStep(ctx, { rotation, step: 'current' });
}
