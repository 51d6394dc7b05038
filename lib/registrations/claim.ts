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
  | { kind: 'outdated' };

/**
 * Writes the intent row (in flight: the request leaves right after this commits) only if the
 * issuer and app rows are still the versions the request was built from, and returns the outbound
 * allowlist with it, so a registration reads nothing else before its POST. Hand-written SQL because
 * it is an INSERT … SELECT … WHERE with a sub-select in RETURNING; named, so each connection
 * parses and plans it once.
 */
const CLAIM = namedStatement(`
insert into registration_operations (idempotency_key, request_hash, issuer_id, app_id, environment, request, status, created_by)
select $1::text, $2::text, $3::uuid, $4::uuid, $5::text, $6::jsonb, 'in_flight', $7::text
where exists (select 1 from issuers where id = $3::uuid and xmin::text = $8::text)
  and exists (select 1 from apps where id = $4::uuid and xmin::text = $9::text)
returning id, (select coalesce(array_agg(entry), '{}') from outbound_allowlist) as allowlist`);

export async function claimOperation(fields: ClaimFields, versions: RegistrationContext['versions']): Promise<Claim> {
  try {
    const { rows } = await runNamed<{ id: string; allowlist: string[] }>(CLAIM, [
      fields.idempotencyKey,
      fields.requestHash,
      fields.issuerId,
      fields.appId,
      fields.environment,
      JSON.stringify(fields.request),
      fields.createdBy,
      versions.issuer,
      versions.app,
    ]);
    const row = rows[0];
    return row ? { kind: 'claimed', id: row.id, allowlist: row.allowlist } : { kind: 'outdated' };
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
