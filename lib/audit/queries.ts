import 'server-only';
import { and, count, desc, eq, gte, ilike, lt, lte, or, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { AUDIT_OUTCOMES, auditLog } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';

const text = z.string().trim().max(200).optional().catch(undefined).transform((v) => v || undefined);

/** Audit filters from the URL (the page, the CSV export and the API share this schema). */
export const auditFilterSchema = z.object({
  actor: text,
  action: text,
  target: text,
  outcome: z.enum(AUDIT_OUTCOMES).optional().catch(undefined),
  from: z.iso.date().optional().catch(undefined),
  to: z.iso.date().optional().catch(undefined),
  page: z.coerce.number().int().min(1).catch(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).catch(50).default(50),
  /**
   * Paging through a snapshot: only entries up to this id (the newest one page 1 showed). The log
   * grows while someone reads it; without it, each new entry shifts every later page by one, and
   * page 2 repeats the end of page 1.
   */
  asOf: z.coerce.number().int().min(1).optional().catch(undefined),
});
export type AuditFilters = z.output<typeof auditFilterSchema>;

export function auditWhere(f: AuditFilters): SQL | undefined {
  const conditions = [
    f.actor ? ilike(auditLog.actorLabel, `%${f.actor}%`) : undefined,
    f.action ? ilike(auditLog.action, `${f.action}%`) : undefined,
    f.target ? or(eq(auditLog.targetId, f.target), ilike(auditLog.targetType, f.target)) : undefined,
    f.outcome ? eq(auditLog.outcome, f.outcome) : undefined,
    f.asOf ? lte(auditLog.id, f.asOf) : undefined,
    f.from ? gte(auditLog.at, new Date(`${f.from}T00:00:00Z`)) : undefined,
    // `to` is inclusive of the whole day.
    f.to ? lt(auditLog.at, new Date(new Date(`${f.to}T00:00:00Z`).getTime() + 86_400_000)) : undefined,
  ].filter((c): c is SQL => c !== undefined);
  return and(...conditions);
}

export const auditColumns = {
  id: auditLog.id,
  at: auditLog.at,
  actorType: auditLog.actorType,
  actorLabel: auditLog.actorLabel,
  role: auditLog.role,
  action: auditLog.action,
  targetType: auditLog.targetType,
  targetId: auditLog.targetId,
  outcome: auditLog.outcome,
  requestId: auditLog.requestId,
  details: auditLog.details,
};

/** Managers and admins: the audit log, filtered and paginated, newest first. */
export async function listAudit(actor: Actor, filters: AuditFilters) {
  assertCan(actor, 'audit:read');
  const where = auditWhere(filters);
  const [rows, [{ total } = { total: 0 }]] = await Promise.all([
    getDb()
      .select(auditColumns)
      .from(auditLog)
      .where(where)
      .orderBy(desc(auditLog.id))
      .limit(filters.pageSize)
      .offset((filters.page - 1) * filters.pageSize),
    getDb().select({ total: count() }).from(auditLog).where(where),
  ]);
  return { rows, total };
}
