import 'server-only';
import Cursor from 'pg-cursor';
import { desc } from 'drizzle-orm';
import { getDb, getPool } from '@/db/client';
import { auditLog } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { csvCell } from '@/lib/csv';
import { auditColumns, auditWhere, type AuditFilters } from './queries';
import { recordAudit } from './record';

const HEADER = ['id', 'at', 'actor_type', 'actor', 'role', 'action', 'target_type', 'target_id', 'outcome', 'request_id', 'details'];

/** The filtered audit log as CSV, streamed from a cursor. Details were redacted when written. */
export async function exportAuditCsv(actor: Actor, filters: AuditFilters): Promise<ReadableStream<Uint8Array>> {
  assertCan(actor, 'audit:read');
  assertCan(actor, 'export:run');
  const { page: _p, pageSize: _s, ...rest } = filters;
  await recordAudit(getDb(), actor, { action: 'audit.export', targetType: 'audit_log', details: { filters: rest } });
  const query = getDb().select(auditColumns).from(auditLog).where(auditWhere(filters)).orderBy(desc(auditLog.id)).toSQL();
  const client = await getPool().connect();
  const cursor = client.query(new Cursor(query.sql, query.params as unknown[], { rowMode: 'array' }));
  const encoder = new TextEncoder();
  let started = false;
  const release = async () => {
    await cursor.close().catch(() => {});
    client.release();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!started) {
          started = true;
          controller.enqueue(encoder.encode(HEADER.join(',') + '\r\n'));
        }
        const rows = (await cursor.read(1000)) as unknown as unknown[][];
        if (rows.length === 0) {
          await release();
          return controller.close();
        }
        controller.enqueue(encoder.encode(rows.map((r) => r.map((v) => csvCell(typeof v === 'object' && v !== null && !(v instanceof Date) ? JSON.stringify(v) : v)).join(',') + '\r\n').join('')));
      } catch (error) {
        await release();
        controller.error(error);
      }
    },
    async cancel() {
      await release();
    },
  });
}
