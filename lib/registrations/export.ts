import 'server-only';
import type { Actor } from '@/lib/auth/actor';
import { assertCanAudited, auditedStream } from '@/lib/audit/record';
import { csvCell } from '@/lib/csv';
import { streamQueryAsCsv } from '@/lib/csv-stream';
import { expiryOf } from './expiry';
import { tableFrom, tableOrder, tableWhere, type RegistrationTableParams } from './table';

const HEADER = ['health_system', 'issuer', 'environment', 'app', 'client_id', 'auth_method', 'status', 'secret_expiry_state', 'secret_expires_at', 'registration_access_token', 'scope_interactions_lost', 'redirect_uri_findings', 'last_rotated_at', 'last_checked_at', 'created_at'];
const BATCH = 1_000;

/**
 * The registrations table under the given filter as CSV, streamed from a database cursor in batches,
 * so 100,000 rows never sit in memory at once. Contains no secret: the columns are the table's.
 * Audited before the first byte is sent (a refusal too).
 */
export async function exportRegistrationsCsv(actor: Actor, params: RegistrationTableParams): Promise<ReadableStream<Uint8Array>> {
  const { page: _page, pageSize: _pageSize, ...filters } = params;
  const entry = { action: 'registration.export', targetType: 'registration', details: { filters } };
  await assertCanAudited(actor, ['export:run'], entry);
  const query = tableFrom().where(tableWhere(params)).orderBy(...tableOrder(params)).toSQL();
  const stream = await streamQueryAsCsv({ query: { sql: query.sql, params: query.params as unknown[] }, header: HEADER, toLine: toCsvLine, batchSize: BATCH });
  return auditedStream(actor, entry, stream);
}

// Positions follow `tableColumns` in table.ts (array row mode keeps memory low).
function toCsvLine(r: unknown[], now: Date): string {
  const [, , healthSystemName, , issuerUrl, environment, , appName, clientId, authMethod, status, , secretExpiryKind, secretExpiresAt, redirectFindingCount, scopeLostCount, lastRotatedAt, lastCheckedAt, createdAt, hasRat] = r;
  const expiresAt = secretExpiresAt ? new Date(String(secretExpiresAt)) : null;
  const expiry = expiryOf(secretExpiryKind as 'never' | 'at' | 'unknown' | 'none', expiresAt, now);
  return (
    [healthSystemName, issuerUrl, environment, appName, clientId, authMethod, status, expiry.state, expiresAt, hasRat ? 'held' : 'none', scopeLostCount, redirectFindingCount, lastRotatedAt, lastCheckedAt, createdAt]
      .map(csvCell)
      .join(',') + '\r\n'
  );
}
