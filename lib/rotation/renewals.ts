import 'server-only';
import { and, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { registrations } from '@/db/schema';
import { computeRenewal } from './renewal';
import { effectivePolicy, loadAllOverrides, type OverrideMaps } from './settings';

/** Rows whose renewal time was computed from another expiry than the current one (matches registrations_renew_stale_idx). */
const STALE: SQL = sql`(${registrations.renewBasisKind} is distinct from ${registrations.secretExpiryKind} or ${registrations.renewBasisAt} is distinct from ${registrations.secretExpiresAt})`;

const UNKNOWN_EXPIRY_REASON =
  'The hospital did not say when this client secret expires (no client_secret_expires_at, RFC 7591 §3.2.1), so Registrar cannot plan its renewal. Ask the hospital for the expiry, then rotate it or record a max-age policy.';

type Row = {
  id: string;
  issuerId: string;
  appId: string;
  secretExpiryKind: 'never' | 'at' | 'unknown' | 'none';
  secretExpiresAt: Date | null;
  lastRotatedAt: Date | null;
  clientIdIssuedAt: Date | null;
  createdAt: Date;
  status: string;
};

const columns = {
  id: registrations.id,
  issuerId: registrations.issuerId,
  appId: registrations.appId,
  secretExpiryKind: registrations.secretExpiryKind,
  secretExpiresAt: registrations.secretExpiresAt,
  lastRotatedAt: registrations.lastRotatedAt,
  clientIdIssuedAt: registrations.clientIdIssuedAt,
  createdAt: registrations.createdAt,
  status: registrations.status,
};

async function apply(rows: Row[], overrides: OverrideMaps): Promise<{ updated: number; unknown: number }> {
  if (rows.length === 0) return { updated: 0, unknown: 0 };
  const values = rows.map((r) => {
    const policy = effectivePolicy(overrides.issuers.get(r.issuerId), overrides.apps.get(r.appId));
    const issuedAt = r.lastRotatedAt ?? r.clientIdIssuedAt ?? r.createdAt;
    const renewal = computeRenewal({ kind: r.secretExpiryKind, expiresAt: r.secretExpiresAt, issuedAt }, policy);
    return { id: r.id, renew_at: renewal.renewAt?.toISOString() ?? null, kind: r.secretExpiryKind, at: r.secretExpiresAt?.toISOString() ?? null, unknown: renewal.needsAttention };
  });
  // One statement per batch. The basis is copied from the row itself (JSON carries milliseconds,
  // PostgreSQL keeps microseconds), and only where the row still has the expiry that was read:
  // a row that changed meanwhile stays stale and is redone by the next pass.
  await getDb().execute(sql`
    update ${registrations} as r
       set renew_at = v.renew_at, renew_basis_kind = r.secret_expiry_kind, renew_basis_at = r.secret_expires_at
      from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(id uuid, renew_at timestamptz, kind text, at timestamptz)
     where r.id = v.id
       and r.secret_expiry_kind = v.kind
       and date_trunc('milliseconds', r.secret_expires_at) is not distinct from v.at`);
  const unknown = values.filter((v) => v.unknown).map((v) => v.id);
  if (unknown.length) {
    // An unknown expiry needs a person; an attention reason already there (e.g. management lost) is kept.
    await getDb()
      .update(registrations)
      .set({ status: 'needs_attention', attentionReason: UNKNOWN_EXPIRY_REASON })
      .where(and(inArray(registrations.id, unknown), eq(registrations.status, 'active'), isNull(registrations.attentionReason)));
  }
  return { updated: values.length, unknown: unknown.length };
}

/**
 * Recomputes renewal times where the expiry changed since they were computed (new registrations,
 * secrets rotated by any path, overrides changed). Batched by the partial index on stale rows.
 */
export async function reconcileRenewals(opts: { batchSize?: number; maxBatches?: number; issuerId?: string } = {}): Promise<{ updated: number; unknown: number }> {
  const batchSize = opts.batchSize ?? 1000;
  const overrides = await loadAllOverrides();
  let updated = 0;
  let unknown = 0;
  for (let batch = 0; batch < (opts.maxBatches ?? 1000); batch++) {
    const rows = await getDb()
      .select(columns)
      .from(registrations)
      .where(opts.issuerId ? and(STALE, eq(registrations.issuerId, opts.issuerId)) : STALE)
      .limit(batchSize);
    const result = await apply(rows, overrides);
    updated += result.updated;
    unknown += result.unknown;
    if (rows.length < batchSize) break;
  }
  return { updated, unknown };
}

/** Recomputes the renewal time of the given registrations now (after a rotation switched). */
export async function refreshRenewals(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const rows = await getDb()
    .select(columns)
    .from(registrations)
    .where(or(...ids.map((id) => eq(registrations.id, id))));
  await apply(rows, await loadAllOverrides());
}
