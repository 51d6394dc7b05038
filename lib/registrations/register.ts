import 'server-only';
import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrationOperations, registrations, type AppProfile, type Issuer } from '@/db/schema';
import { ensureAppKey } from '@/lib/apps/keys';
import { actorLabel, assertCan, type Actor } from '@/lib/auth/actor';
import { recordAudit } from '@/lib/audit/record';
import { vaultStatus } from '@/lib/credentials/vault';
import { AppError, isAppError } from '@/lib/errors';
import { errorSummary, logger } from '@/lib/logger';
import { looksLikeEpicRegistration, registerClient, signSoftwareStatement, type RegistrationResponse } from '@/lib/oauth/registration';
import type { SafeFetchInit } from '@/lib/oauth/safe-fetch';
import { outboundPolicyFrom } from '@/lib/outbound/policy';
import { readAppPrivateKey } from '@/lib/apps/keys';
import { redirectUriErrors } from '@/lib/redirect-uris/validate';
import { buildRegistrationRequest, maskRequest, type Adaptation, type RegistrationOverrides } from './build-request';
import { claimOperation } from './claim';
import { forgetRegistrationContext, registrationContext, type RegistrationContext } from './context';
import { persistRegistration, type PersistInput } from './persist';
import { markOperationStaleIfAbandoned, whatToLookFor } from './reconcile';
import { writeRecoveryFile } from './recovery';
import { registerSchema, type RegisterInput } from './schemas';
import { hostedJwksUriFor } from './hosted-jwks';
import { buildUdapRegistration } from './udap';

export type RegisterResult = {
  operationId: string;
  registrationId: string;
  clientId: string;
  /** True when this call found an earlier identical submission and returns its result. */
  replayed: boolean;
};

type FetchOverrides = Omit<SafeFetchInit, 'method' | 'headers' | 'body'>;

export type RegisterDeps = {
  fetchInit?: FetchOverrides;
  persistAttempts?: number;
  /**
   * Runs after the hospital answered and before anything of the answer is stored: the window in
   * which a crash leaves the intent row in flight (crash tests kill the process here).
   */
  afterResponse?: (info: { operationId: string; clientId: string }) => void | Promise<void>;
  /**
   * Refuse while an earlier submission of the same app at the same issuer and environment has an
   * outcome nobody knows yet (default). A rotation registers its replacement with false: it has its
   * own recovery, and the client it replaces must keep working whatever else is pending.
   */
  guardUnresolved?: boolean;
};

/**
 * Registers an app at an issuer (RFC 7591) without ever losing what the server answers:
 * 1. an intent row keyed by the form's idempotency key is written before the request leaves;
 *    identical concurrent submissions find it and wait for its result (exactly one upstream POST);
 * 2. the answer (secret, registration access token, raw body) is encrypted and stored in one
 *    transaction with the registration and its audit row; if that fails it is retried and then
 *    written to an encrypted recovery file (`npm run recover`), never dropped.
 */
export async function registerApp(actor: Actor, input: RegisterInput, deps: RegisterDeps = {}): Promise<RegisterResult> {
  assertCan(actor, 'registrations:write');
  const data = registerSchema.parse(input);
  const vault = vaultStatus();
  if (vault.status !== 'ok') throw new AppError('VAULT_LOCKED', `Credentials cannot be stored safely: ${vault.message}`);

  const requestHash = hashRequest({ issuerId: data.issuerId, appId: data.appId, environment: data.environment, overrides: data.overrides ?? null, statement: data.softwareStatement ?? null });
  const { context, prepared, metadata, registrationEndpoint, claim } = await prepareAndClaim(actor, data, requestHash, deps.guardUnresolved ?? true);
  if (claim.kind === 'duplicate') return waitForOperation(claim.id);
  if (claim.kind === 'blocked') {
    const what = claim.status === 'needs_recovery' ? 'was registered at the hospital but its answer is not stored yet' : 'may have created a client at the hospital that Registrar does not know';
    throw new AppError(
      'CONFLICT',
      `An earlier registration of this app at this issuer (${data.environment}) ${what}: registering again could leave a second client there. Resolve that operation first (record what the hospital shows, or import its recovery file), then register.`,
      { operationId: claim.id },
    );
  }
  const { issuer, app } = context;
  const operation = { id: claim.id };

  const auditBase = { action: 'registration.create', targetType: 'issuer', targetId: issuer.id, details: { appId: app.id, environment: data.environment, operationId: operation.id, mode: prepared.mode } };
  let response: RegistrationResponse;
  try {
    response = await registerClient({
      registrationEndpoint,
      metadata,
      initialAccessToken: data.initialAccessToken,
      fetchInit: { policy: outboundPolicyFrom(claim.allowlist), ...deps.fetchInit },
    });
  } catch (error) {
    const info = isAppError(error) ? (error.details?.registrationError as { outcomeUnknown?: boolean; field?: string } | undefined) : undefined;
    const status = info?.outcomeUnknown ? 'outcome_unknown' : 'failed';
    const code = isAppError(error) ? error.code : 'UPSTREAM_UNREACHABLE';
    const upstreamMessage = isAppError(error) ? error.message : 'The registration request failed unexpectedly.';
    const message =
      status === 'outcome_unknown'
        ? `${upstreamMessage} Registrar cannot tell whether the hospital registered the client; ${whatToLookFor(prepared.requested)} before trying again (operation ${operation.id}).`
        : upstreamMessage;
    await getDb()
      .update(registrationOperations)
      .set({ status, error: { code, message, ...(info?.field ? { field: info.field } : {}) }, updatedAt: new Date() })
      .where(eq(registrationOperations.id, operation.id));
    await recordAudit(getDb(), actor, { ...auditBase, outcome: 'failure', details: { ...auditBase.details, error: code, outcomeUnknown: Boolean(info?.outcomeUnknown) } });
    if (status === 'outcome_unknown') {
      throw new AppError(code, message, { operationId: operation.id, ...(info?.field ? { field: info.field } : {}) });
    }
    throw error;
  }

  await deps.afterResponse?.({ operationId: operation.id, clientId: response.clientId });
  const registrationId = await persistWithRetry(actor, {
    operationId: operation.id,
    issuerId: issuer.id,
    appId: app.id,
    appVersion: app.currentVersion,
    environment: data.environment,
    authMethod: prepared.authMethod,
    appKeyId: prepared.appKeyId,
    requested: prepared.requested,
    adaptations: prepared.adaptations,
    response,
    audit: auditBase,
    attempts: deps.persistAttempts ?? 3,
    overrides: data.overrides ?? null,
    statementMode: data.softwareStatement === 'sign' || data.softwareStatement === 'udap' ? data.softwareStatement : data.softwareStatement ? 'provided' : null,
  });
  return { operationId: operation.id, registrationId, clientId: response.clientId, replayed: false };
}

type Prepared = { mode: 'standard' | 'epic' | 'udap'; authMethod: string; appKeyId: string | null; adaptations: Adaptation[]; requested: Record<string, unknown> };

/**
 * Builds the request from the issuer and app profile and writes the intent row. The claim commits
 * only if neither changed since they were read (usually from the recent-context cache); when one
 * did, the request is rebuilt from fresh rows, so what is sent is what the intent row records.
 */
async function prepareAndClaim(actor: Actor, data: ReturnType<typeof registerSchema.parse>, requestHash: string, guardUnresolved: boolean) {
  for (let attempt = 0; ; attempt++) {
    const context = await registrationContext(data.issuerId, data.appId, { fresh: attempt > 0 });
    const reviewed = data.reviewedVersions;
    if (reviewed && (reviewed.issuer !== context.versions.issuer || reviewed.app !== context.versions.app)) {
      // A recent-context cache entry may be older than the review: only fresh rows can refuse.
      if (attempt === 0) {
        forgetRegistrationContext(data.issuerId, data.appId);
        continue;
      }
      throw new AppError(
        'CONFLICT',
        'The app profile or the issuer’s metadata changed after you checked the request, so what would be sent is no longer what you reviewed. Check again, review, then register.',
        { field: 'review' },
      );
    }
    let built: Awaited<ReturnType<typeof prepareMetadata>>;
    try {
      built = await prepareMetadata(context, data);
    } catch (error) {
      // A refusal (no registration endpoint, no such environment) is trusted only from fresh rows.
      if (attempt > 0) throw error;
      forgetRegistrationContext(data.issuerId, data.appId);
      continue;
    }
    const { prepared, metadata, registrationEndpoint } = built;
    const claim = await claimOperation(
      { idempotencyKey: data.idempotencyKey, requestHash, issuerId: context.issuer.id, appId: context.app.id, environment: data.environment, request: prepared.requested, createdBy: actorLabel(actor) },
      context.versions,
      { guardUnresolved },
    );
    if (claim.kind !== 'outdated') return { context, prepared, metadata, registrationEndpoint, claim };
    forgetRegistrationContext(data.issuerId, data.appId);
    if (attempt >= 2) throw new AppError('CONFLICT', 'The issuer or the app changed while the registration was being prepared, three times in a row. Review the request and try again.');
  }
}

async function prepareMetadata({ issuer, app }: RegistrationContext, data: ReturnType<typeof registerSchema.parse>) {
  const registrationEndpoint = issuer.endpoints.registration?.value;
  if (!registrationEndpoint) {
    throw new AppError('INVALID', 'This issuer has no registration endpoint, so Registrar cannot register the app there. For an Epic issuer, set the app’s Epic client ID on the issuer page (discovery runs again with it); otherwise ask the hospital how to register the app.', { field: 'issuerId' });
  }
  const envProfile = app.profile.environments[data.environment];
  if (!envProfile) throw new AppError('INVALID', `The app has no "${data.environment}" environment.`, { field: 'environment' });

  let metadata: Record<string, unknown>;
  let prepared: Prepared;
  if (data.softwareStatement === 'udap') {
    // HL7 UDAP Security §3.1: the metadata travels inside a statement signed with the app's client certificate.
    const udap = await buildUdapRegistration({ appId: app.id, profile: app.profile, environment: data.environment, issuer, registrationEndpoint, overrides: data.overrides });
    metadata = { ...udap.body };
    prepared = { mode: 'udap', authMethod: 'private_key_jwt', appKeyId: udap.appKeyId, adaptations: udap.adaptations, requested: udap.requested };
  } else {
    const standard = await prepareRequest(app.id, app.profile, data.environment, issuer, data.overrides, registrationEndpoint);
    if (standard.built.mode === 'epic' && !data.initialAccessToken) {
      throw new AppError('INVALID', 'This Epic registration endpoint needs the initial access token from a standalone launch.', { field: 'initialAccessToken' });
    }
    if (standard.built.mode === 'epic' && data.softwareStatement) {
      // Epic's endpoint takes exactly {software_id, jwks} (protocol notes): a statement would be an unexpected member.
      throw new AppError('INVALID', "This Epic registration endpoint accepts exactly {software_id, jwks}: a software statement cannot be sent to it. Register without one.", { field: 'softwareStatement' });
    }
    metadata = { ...standard.built.metadata };
    if (data.softwareStatement === 'sign') {
      metadata.software_statement = await signStatement(app.id, app.profile, data.environment, metadata);
    } else if (data.softwareStatement) {
      metadata.software_statement = data.softwareStatement;
    }
    prepared = { mode: standard.built.mode, authMethod: standard.built.authMethod, appKeyId: standard.appKeyId, adaptations: standard.built.adaptations, requested: maskRequest(metadata) };
  }
  // Overrides can bring in a URI the profile never had: one no server may accept is refused before anything is sent.
  const redirectUris = Array.isArray(prepared.requested.redirect_uris) ? prepared.requested.redirect_uris.filter((u): u is string => typeof u === 'string') : [];
  const redirectErrors = redirectUriErrors(redirectUris, { applicationType: envProfile.applicationType });
  if (redirectErrors.length > 0) throw new AppError('INVALID', `A redirect URI cannot be registered: ${redirectErrors.join(' ')}`, { field: 'redirectUris' });
  return { prepared, metadata, registrationEndpoint };
}

async function prepareRequest(appId: string, profile: AppProfile, environment: string, issuer: Issuer, overrides: RegistrationOverrides | undefined, registrationEndpoint: string) {
  const envProfile = profile.environments[environment]!;
  const epicMode = looksLikeEpicRegistration({ fhirBaseUrl: issuer.fhirBaseUrl, registrationEndpoint, capabilities: issuer.capabilities });
  const method = overrides?.tokenEndpointAuthMethod ?? envProfile.tokenEndpointAuthMethod;
  const wantsKey = epicMode || method === 'private_key_jwt' || issuer.tokenEndpointAuthMethodsSupported.includes('private_key_jwt');
  // First pass decides the auth method and algorithm; the key is generated only when it is needed.
  const draft = buildRegistrationRequest({ issuer, profile, environment, overrides, jwksUri: null, inlineJwks: null, epicMode });
  let appKeyId: string | null = null;
  if (wantsKey && draft.keyAlgorithm && (epicMode || draft.authMethod === 'private_key_jwt')) {
    const key = await ensureAppKey(appId, environment, 'client_auth', draft.keyAlgorithm);
    appKeyId = key.id;
    const jwksUri = hostedJwksUriFor(appId, environment, registrationEndpoint);
    return { built: buildRegistrationRequest({ issuer, profile, environment, overrides, jwksUri: epicMode ? null : jwksUri, inlineJwks: { keys: [key.publicJwk] }, epicMode }), appKeyId };
  }
  return { built: draft, appKeyId };
}


async function signStatement(appId: string, profile: AppProfile, environment: string, metadata: Record<string, unknown>): Promise<string> {
  const key = await ensureAppKey(appId, environment, 'software_statement', 'ES384');
  return signSoftwareStatement({ metadata, issuer: profile.softwareId, privateKeyPkcs8Pem: await readAppPrivateKey(key.id), alg: 'ES384', kid: key.kid });
}

function hashRequest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** A duplicate submission: wait (bounded) for the first one to finish and return its result. */
async function waitForOperation(operationId: string): Promise<RegisterResult> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [op] = await getDb().select().from(registrationOperations).where(eq(registrationOperations.id, operationId));
    if (!op) throw new AppError('NOT_FOUND', 'The registration operation disappeared.');
    if (op.status === 'succeeded' && op.registrationId) {
      const [reg] = await getDb().select({ clientId: registrations.clientId }).from(registrations).where(eq(registrations.id, op.registrationId));
      return { operationId, registrationId: op.registrationId, clientId: reg!.clientId, replayed: true };
    }
    if (op.status === 'failed' || op.status === 'outcome_unknown' || op.status === 'needs_recovery') {
      throw new AppError((op.error?.code as never) ?? 'UPSTREAM_REJECTED', op.error?.message ?? `The first submission ended as ${op.status}.`, { operationId, ...(op.error?.field ? { field: op.error.field } : {}) });
    }
    // The first submission's process died after claiming (a crash or restart): nothing will finish it.
    if (op.status === 'in_flight' && (await markOperationStaleIfAbandoned(getDb(), operationId))) continue;
    if (Date.now() > deadline) throw new AppError('CONFLICT', 'An identical submission is still in progress; check the operation later.', { operationId });
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function persistWithRetry(actor: Actor, input: PersistInput): Promise<string> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= input.attempts; attempt++) {
    try {
      return await persistRegistration(actor, input);
    } catch (error) {
      lastError = error;
      // A conflict with a stored registration does not go away by waiting.
      if (isAppError(error) && error.code === 'CONFLICT') break;
      if (attempt < input.attempts) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
  }
  const why = isAppError(lastError) ? ` (${lastError.message})` : '';
  // The hospital said yes but we could not store it: keep it, encrypted, on disk.
  let file: string;
  try {
    file = await writeRecoveryFile({ ...input, response: input.response, actor: actorLabel(actor) });
  } catch (writeError) {
    // Neither the database nor the disk took it (a full disk is a likely cause of both). The
    // operation still says so, with the client to look for; the credentials are lost to Registrar.
    const message = `The hospital registered client ${input.response.clientId}, but Registrar could neither save it${why} nor write its recovery file (${errorSummary(writeError).code ?? 'write failed'}). Its new credentials are lost to Registrar: ask the hospital to delete client ${input.response.clientId} (or issue it a new secret), then register again.`;
    logger.error({ operationId: input.operationId, clientId: input.response.clientId, err: errorSummary(writeError) }, 'registration not saved and no recovery file written');
    await getDb()
      .update(registrationOperations)
      .set({ status: 'needs_recovery', error: { code: 'NEEDS_RECOVERY', message }, updatedAt: new Date() })
      .where(eq(registrationOperations.id, input.operationId))
      .catch(() => {});
    await recordAudit(getDb(), actor, { ...input.audit, outcome: 'failure', details: { ...input.audit.details, error: 'NEEDS_RECOVERY', clientId: input.response.clientId, recoveryFile: null } }).catch(() => {});
    throw new AppError('NEEDS_RECOVERY', message, { operationId: input.operationId, clientId: input.response.clientId }, { cause: lastError });
  }
  await getDb()
    .update(registrationOperations)
    .set({ status: 'needs_recovery', error: { code: 'INTERNAL', message: `Registered upstream but not saved${why}; kept in ${file}.` }, updatedAt: new Date() })
    .where(eq(registrationOperations.id, input.operationId))
    .catch(() => {});
  await recordAudit(getDb(), actor, { ...input.audit, outcome: 'failure', details: { ...input.audit.details, error: 'NEEDS_RECOVERY', clientId: input.response.clientId } }).catch(() => {});
  throw new AppError(
    'NEEDS_RECOVERY',
    `The hospital registered client ${input.response.clientId}, but Registrar could not save it. Its answer is kept encrypted in ${file}; run \`npm run recover\` once the database is healthy.`,
    { operationId: input.operationId, clientId: input.response.clientId },
    { cause: lastError },
  );
}
