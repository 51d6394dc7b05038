import 'server-only';
import { desc } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { auditLog } from '@/db/schema';
import type { Actor } from '@/lib/auth/actor';
import { csvCell } from '@/lib/csv';
import { streamQueryAsCsv } from '@/lib/csv-stream';
import { auditColumns, auditWhere, type AuditFilters } from './queries';
import { assertCanAudited, auditedStream } from './record';

const HEADER = ['id', 'at', 'actor_type', 'actor', 'role', 'action', 'target_type', 'target_id', 'outcome', 'request_id', 'details'];

/** The filtered audit log as CSV, streamed from a cursor. Details were redacted when written. */
export async function exportAuditCsv(actor: Actor, filters: AuditFilters): Promise<ReadableStream<Uint8Array>> {
  const { page: _p, pageSize: _s, ...rest } = filters;
  const entry = { action: 'audit.export', targetType: 'audit_log', details: { filters: rest } };
  await assertCanAudited(actor, ['audit:read', 'export:run'], entry);
  const query = getDb().select(auditColumns).from(auditLog).where(auditWhere(filters)).orderBy(desc(auditLog.id)).toSQL();
  const stream = await streamQueryAsCsv({
    query: { sql: query.sql, params: query.params as unknown[] },
    header: HEADER,
    toLine: (r) => r.map((v) => csvCell(typeof v === 'object' && v !== null && !(v instanceof Date) ? JSON.stringify(v) : v)).join(',') + '\r\n',
  });
  return auditedStream(actor, entry, stream);
}
