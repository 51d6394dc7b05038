import 'server-only';
import { namedStatement, runNamed } from '@/db/named-statement';
import type { Rotation } from '@/db/schema';
import { auditRow } from '@/lib/audit/record';
import { actorLabel, type Actor } from '@/lib/auth/actor';
import { replacementCredentialsCtes, sealReplacementCredentials } from '@/lib/credentials/store';
import { fingerprintSecret } from '@/lib/credentials/vault';
import { AppError, isAppError } from '@/lib/errors';
import { errorSummary, logger } from '@/lib/logger';
import type { RegistrationResponse } from '@/lib/oauth/registration';
import type { ManagedRegistration } from '@/lib/registrations/manage/shared';
import { writeManagementRecoveryFile } from '@/lib/registrations/recovery';
import { computeRenewal } from './renewal';
import { refreshRenewals } from './renewals';
import type { RenewalPolicy } from './settings';

export const VERIFIED_BY = 'hospital answer (RFC 7592 update)';

export type AnswerToStore = {
  /** Who the audit row names: answers of different runs may share one statement. */
  actor: Actor;
  rot: Rotation;
  reg: ManagedRegistration;
  renewal: RenewalPolicy;
  response: RegistrationResponse;
  /** The registration access token the request used, the current secret's stored fingerprint and the key id it was made under. */
  used: { rat: string; secretFingerprint: string | null; secretFingerprintKeyId: string | null };
  op: 'read' | 'update';
};

/** `conflict`: the credentials were stored but the rotation row had moved on meanwhile (its run re-reads it). */
export type StoredAnswer = { rotation: Rotation; newSecret: boolean; rat: string; conflict?: boolean };

/** What one answer changes, computed (and its secrets sealed) before the statement. */
function plan(a: AnswerToStore, now: Date) {
  const { response } = a;
  const newRat = response.registrationAccessToken !== null && response.registrationAccessToken !== a.used.rat ? response.registrationAccessToken : null;
  // The answer's secret is fingerprinted under the key the stored fingerprint was made with: under
  // the current key, an unchanged secret would look new whenever the current key differs from it
  // (a new REGISTRAR_KEY before or during keys:rotate, or instances that disagree). A stored key
  // that is no longer configured falls back to the current key: the secret is then stored as new
  // (never lost), as it was before key ids were compared.
  const newSecret =
    response.clientSecret !== null && fingerprintSecret(response.clientSecret, { keyId: a.used.secretFingerprintKeyId }) !== a.used.secretFingerprint ? response.clientSecret : null;
  const expiry = response.secretExpiry;
  const expiresAt = expiry.kind === 'at' ? expiry.at : null;
  const renewal = newSecret ? computeRenewal({ kind: expiry.kind, expiresAt, issuedAt: now }, a.renewal) : null;
  const items = [
    ...(newRat ? [{ kind: 'registration_access_token' as const, plaintext: newRat }] : []),
    ...(newSecret ? [{ kind: 'client_secret' as const, plaintext: newSecret, expiresAt }] : []),
  ];
  return { a, newRat, newSecret, expiry, expiresAt, renewal, items: items.length ? [...items, { kind: 'response_body' as const, plaintext: response.rawBody }] : [], rotated: items.map((i) => i.kind) };
}

/**
 * Stores what answers to RFC 7592 calls (the PUT of a rotation, or the GET that recovers a lost PUT)
 * carried, before anything else: new registration access tokens (the old ones are dead), new
 * secrets and the raw bodies. An answer with a new secret finishes its rotation in the same
 * statement: secret current, old one previous, the registration's expiry, next renewal and server
 * record updated, the rotation current, audited. Many answers go in ONE statement (data-modifying
 * CTEs over row sets): all of it lands or none does, with one commit for all — a bulk rotation's
 * answers share their commits. Retried; a group that still fails is stored answer by answer, so
 * one bad row cannot hold the others back; an answer that cannot be stored is NEEDS_RECOVERY. An
 * error of the vault or the input (AppError) is not retried.
 */
export async function storeAnswers(answers: readonly AnswerToStore[]): Promise<StoredAnswer[]> {
  const settled = await storeAnswersSettled(answers);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<StoredAnswer>).value);
}

/**
 * storeAnswers with a result per answer: when the shared statement fails (after its retries, or at
 * once with an error that may concern one answer only), every answer is stored on its own, so one
 * that cannot be stored fails alone and the others land. Settles only when every answer has.
 */
export async function storeAnswersSettled(answers: readonly AnswerToStore[]): Promise<PromiseSettledResult<StoredAnswer>[]> {
  if (answers.length === 0) return [];
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return (await storeOnce(answers)).map((value) => ({ status: 'fulfilled', value }));
    } catch (error) {
      lastError = error;
      if (isAppError(error)) break;
      if (attempt < 3) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
  }
  if (answers.length > 1) return Promise.allSettled(answers.map((a) => storeAnswers([a]).then(([r]) => r!)));
  if (isAppError(lastError)) return [{ status: 'rejected', reason: lastError }];
  return [{ status: 'rejected', reason: await keepUnstorableAnswer(answers[0]!, lastError) }];
}

/**
 * The database would not take an answer: what it carried that Registrar does not hold yet (a new
 * registration access token, a new secret) goes to an encrypted recovery file for `npm run
 * recover`, as for any management answer (lib/registrations/manage/shared.ts). The rotation's next
 * attempt reads the registration at the hospital first; when the token rotated and that read is
 * refused, it waits for the import instead of giving the client up (update-step.ts).
 */
async function keepUnstorableAnswer(answer: AnswerToStore, cause: unknown): Promise<AppError> {
  const { actor, reg, op } = answer;
  const p = plan(answer, new Date());
  let file: string | null = null;
  if (p.newRat || p.newSecret) {
    try {
      file = await writeManagementRecoveryFile({
        registrationId: reg.id,
        clientId: reg.clientId,
        op,
        rat: p.newRat,
        secret: p.newSecret,
        secretExpiresAt: p.expiresAt?.toISOString() ?? null,
        actor: actorLabel(actor),
      });
    } catch (writeError) {
      logger.error({ registrationId: reg.id, err: errorSummary(writeError) }, 'rotation answer not saved and no recovery file written');
    }
  }
  const what = p.rotated.length ? `new credentials (${p.rotated.join(' and ').replace(/_/g, ' ')})` : 'its registration record';
  const deadToken = p.newRat ? '; the old registration access token no longer works' : '';
  return new AppError(
    'NEEDS_RECOVERY',
    file
      ? `The hospital answered with ${what} for client ${reg.clientId}, but the database would not store them${deadToken}. They are kept encrypted in ${file}: run \`npm run recover\` once the database is healthy.`
      : `The hospital answered with ${what} for client ${reg.clientId}, but Registrar could not store them${p.newRat || p.newSecret ? ' nor write their recovery file' : ''}${p.newRat ? `${deadToken}, so ask the hospital for a new one` : ''}.`,
    { registrationId: reg.id, ...(file ? { recoveryFile: file } : {}) },
    { cause },
  );
}

/**
 * Every answer of a group in one statement (constant text, prepared once per connection): new
 * credentials current and old ones previous, the registrations' server records and expiries, the
 * rotations finished, the audit rows. Parameters: $1 credential rows, $2 their owners, $3
 * registration rows, $4 their ids, $5 rotation rows, $6 their ids, $7 audit rows. The id lists let
 * the planner use the primary keys (it cannot see inside the record sets). Generic plan: with
 * custom plans PostgreSQL planned it anew on every call (~0.7 ms each); measured with
 * pg_stat_statements over 1,000 rotations, the generic plan also executed faster.
 */
const STORE_ANSWERS = namedStatement(`
    with ${replacementCredentialsCtes('registration', { rows: '$1', ownerIds: '$2' })},
    registration as (
      update registrations r
         set registration_client_uri = v.registration_client_uri, server_metadata = v.server_metadata, last_checked_at = now(), updated_at = now(),
             secret_expiry_kind = case when v.rotated then v.expiry_kind else r.secret_expiry_kind end,
             secret_expires_at = case when v.rotated then v.expires_at else r.secret_expires_at end,
             last_rotated_at = case when v.rotated then now() else r.last_rotated_at end,
             status = case when v.rotated and r.status = 'needs_attention' then 'active' else r.status end,
             attention_reason = case when v.rotated and r.status = 'needs_attention' then null else r.attention_reason end,
             renew_at = case when v.renew then v.renew_at else r.renew_at end,
             renew_basis_kind = case when v.renew then v.expiry_kind else r.renew_basis_kind end,
             renew_basis_at = case when v.renew then v.expires_at else r.renew_basis_at end
        from jsonb_to_recordset($3::jsonb)
             as v(id uuid, registration_client_uri text, server_metadata jsonb, rotated boolean, expiry_kind text, expires_at timestamptz, renew boolean, renew_at timestamptz)
       where r.id = v.id and r.id = any($4::uuid[])
      returning 1),
    rotation as (
      update rotations x
         set put_started_at = null, updated_at = now(),
             state = case when v.rotated then 'current' else x.state end,
             new_credential_id = case when v.rotated then v.new_credential_id else x.new_credential_id end,
             new_expiry = case when v.rotated then v.new_expiry else x.new_expiry end,
             verified_by = case when v.rotated then v.verified_by else x.verified_by end,
             next_attempt_at = case when v.rotated then null else x.next_attempt_at end,
             error = case when v.rotated then null else x.error end,
             finished_at = case when v.rotated then now() else x.finished_at end
        from jsonb_to_recordset($5::jsonb)
             as v(id uuid, seen_state text, rotated boolean, new_credential_id uuid, new_expiry jsonb, verified_by text)
       where x.id = v.id and x.state = v.seen_state and x.id = any($6::uuid[])
      returning x.id),
    audit as (
      insert into audit_log (actor_type, actor_id, actor_label, role, action, target_type, target_id, outcome, request_id, details)
      select a."actorType", a."actorId", a."actorLabel", a.role, a.action, a."targetType", a."targetId", a.outcome, a."requestId", a.details
        from jsonb_to_recordset($7::jsonb)
             as a("actorType" text, "actorId" text, "actorLabel" text, role text, action text, "targetType" text, "targetId" text, outcome text, "requestId" text, details jsonb)
      returning 1)
    select coalesce((select json_agg(id) from rotation), '[]') as rotations`,
  { genericPlan: true },
);

async function storeOnce(answers: readonly AnswerToStore[]): Promise<StoredAnswer[]> {
  const now = new Date();
  const plans = answers.map((a) => plan(a, now));
  const withCredentials = plans.filter((p) => p.items.length > 0);
  const creds = sealReplacementCredentials('registration', withCredentials.map((p) => ({ ownerId: p.a.reg.id, items: p.items })));
  const secretIdOf = new Map(creds.stored.filter((s) => s.kind === 'client_secret').map((s) => [s.ownerId, s.id]));

  const regRows = plans.map((p) => {
    const rotated = secretIdOf.has(p.a.reg.id);
    const renew = rotated && p.renewal !== null && !p.renewal.needsAttention;
    return {
      id: p.a.reg.id,
      // RFC 7592 §3: the URI is used exactly as the server last gave it; the answer is the freshest server record.
      registration_client_uri: p.a.response.registrationClientUri ?? p.a.reg.registrationClientUri,
      server_metadata: p.a.response.metadata,
      rotated,
      expiry_kind: p.expiry.kind,
      expires_at: p.expiresAt?.toISOString() ?? null,
      renew,
      renew_at: renew ? (p.renewal!.renewAt?.toISOString() ?? null) : null,
    };
  });
  const rotRows = plans.map((p) => {
    const secretId = secretIdOf.get(p.a.reg.id) ?? null;
    return {
      id: p.a.rot.id,
      seen_state: p.a.rot.state,
      rotated: secretId !== null,
      new_credential_id: secretId,
      new_expiry: secretId ? { kind: p.expiry.kind, at: p.expiresAt?.toISOString() ?? null } : null,
      verified_by: secretId ? VERIFIED_BY : null,
    };
  });
  const audits = withCredentials.map((p) => {
    const secretId = secretIdOf.get(p.a.reg.id);
    const { rot, reg } = p.a;
    const received = { rotationId: rot.id, op: p.a.op, clientId: reg.clientId, rotated: p.rotated };
    // Receiving a new secret and switching to it are one commit here: one audit row says both.
    return secretId
      ? auditRow(p.a.actor, { action: 'rotation.switch', targetType: 'registration', targetId: reg.id, details: { ...received, strategy: rot.strategy, newCredentialId: secretId, verifiedBy: VERIFIED_BY } })
      : auditRow(p.a.actor, { action: 'rotation.credentials_received', targetType: 'registration', targetId: reg.id, details: received });
  });

  const result = await runNamed<{ rotations: string[] }>(STORE_ANSWERS, [
    creds.rows,
    creds.ownerIds,
    JSON.stringify(regRows),
    regRows.map((r) => r.id),
    JSON.stringify(rotRows),
    rotRows.map((r) => r.id),
    JSON.stringify(audits),
  ]);
  const moved = new Set(result.rows[0]?.rotations ?? []);

  const needAttention = plans.filter((p) => p.renewal?.needsAttention).map((p) => p.a.reg.id);
  if (needAttention.length) await refreshRenewals(needAttention).catch(() => {});
  return plans.map((p) => {
    const secretId = secretIdOf.get(p.a.reg.id) ?? null;
    if (!moved.has(p.a.rot.id)) {
      return { rotation: p.a.rot, newSecret: false, rat: p.newRat ?? p.a.used.rat, conflict: true };
    }
    const rotation: Rotation = secretId
      ? { ...p.a.rot, state: 'current', newCredentialId: secretId, newExpiry: { kind: p.expiry.kind, at: p.expiresAt?.toISOString() ?? null }, verifiedBy: VERIFIED_BY, putStartedAt: null, nextAttemptAt: null, error: null, finishedAt: now, updatedAt: now }
      : { ...p.a.rot, putStartedAt: null, updatedAt: now };
    return { rotation, newSecret: secretId !== null, rat: p.newRat ?? p.a.used.rat };
  });
}
