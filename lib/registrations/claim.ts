import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { namedStatement, runNamed } from '@/db/named-statement';
import { isUniqueViolation } from '@/db/errors';
import { registrationOperations } from '@/db/schema';
import { AppError } from '@/lib/errors';
import type { RegistrationContext } from './context';

export type ClaimFields = {
  idempotencyKey: string;
  requestHash: string;
  issuerId: string;
  appId: string;
  environment: string;
  /** The metadata that will be sent, secrets masked. */
  request: Record<string, unknown>;
  createdBy: string;
};

export type Claim =
  /** This submission owns the operation: send the request. `allowlist`: the stored outbound allowlist, read in the same statement. */
  | { kind: 'claimed'; id: string; allowlist: string[] }
  /** An earlier submission with the same key owns it: wait for its result. */
  | { kind: 'duplicate'; id: string }
  /** The issuer or the app changed since the context was read: rebuild the request. */
  | { kind: 'outdated' }
  /**
   * An earlier submission of this app at this issuer and environment (another key) has an outcome
   * nobody knows yet — the hospital may hold a client Registrar does not — so this one is not sent.
   */
  | { kind: 'blocked'; id: string; status: string };

/**
 * How long an operation may stay in flight before it counts as abandoned (its process is gone):
 * the same threshold as reconcile.ts STALE_OPERATION_MS (2 minutes), which turns it into an unknown outcome.
 */
const IN_FLIGHT_STALE_SECONDS = 120;

/**
 * Writes the intent row (in flight: the request leaves right after this commits) only if the
 * issuer and app rows are still the versions the request was built from, and returns the outbound
 * allowlist with it, so a registration reads nothing else before its POST. Hand-written SQL because
 * it is an INSERT … SELECT … WHERE with a sub-select in RETURNING; named, so each connection
 * parses and plans it once.
 */
const CLAIM = namedStatement(`
with blocking as (
  select id, status from registration_operations
   where $10::boolean and issuer_id = $3::uuid and app_id = $4::uuid and environment = $5::text and idempotency_key <> $1::text
     and (status in ('outcome_unknown', 'needs_recovery') or (status = 'in_flight' and updated_at < now() - make_interval(secs => ${IN_FLIGHT_STALE_SECONDS})))
   order by created_at limit 1),
claimed as (
  insert into registration_operations (idempotency_key, request_hash, issuer_id, app_id, environment, request, status, created_by)
  select $1::text, $2::text, $3::uuid, $4::uuid, $5::text, $6::jsonb, 'in_flight', $7::text
  where exists (select 1 from issuers where id = $3::uuid and metadata_version::text = $8::text)
    and exists (select 1 from apps where id = $4::uuid and xmin::text = $9::text)
    and not exists (select 1 from blocking)
  returning id)
select (select id from claimed) as id, (select id from blocking) as blocking_id, (select status from blocking) as blocking_status,
       (select coalesce(array_agg(entry), '{}') from outbound_allowlist) as allowlist`);

/** `guardUnresolved`: refuse while an earlier submission's outcome is unknown (interactive registrations; a rotation has its own recovery). */
export async function claimOperation(fields: ClaimFields, versions: RegistrationContext['versions'], opts: { guardUnresolved?: boolean } = {}): Promise<Claim> {
  try {
    const { rows } = await runNamed<{ id: string | null; blocking_id: string | null; blocking_status: string | null; allowlist: string[] }>(CLAIM, [
      fields.idempotencyKey,
      fields.requestHash,
      fields.issuerId,
      fields.appId,
      fields.environment,
      JSON.stringify(fields.request),
      fields.createdBy,
      versions.issuer,
      versions.app,
      opts.guardUnresolved ?? true,
    ]);
    const row = rows[0];
    if (row?.id) return { kind: 'claimed', id: row.id, allowlist: row.allowlist };
    if (row?.blocking_id) return { kind: 'blocked', id: row.blocking_id, status: row.blocking_status ?? 'unknown' };
    return { kind: 'outdated' };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const [existing] = await getDb()
      .select({ id: registrationOperations.id, requestHash: registrationOperations.requestHash })
      .from(registrationOperations)
      .where(eq(registrationOperations.idempotencyKey, fields.idempotencyKey));
    if (!existing) throw error;
    if (existing.requestHash !== fields.requestHash) {
      throw new AppError('CONFLICT', 'This submission key was already used for a different registration request. Reload the form to start a new one.');
    }
    return { kind: 'duplicate', id: existing.id };
  }
}
