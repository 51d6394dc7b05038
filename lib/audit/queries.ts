import 'server-only';
import { desc } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { auditLog } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';

export async function listRecentAudit(actor: Actor, limit = 100) {
  assertCan(actor, 'audit:read');
  return getDb()
    .select({
      id: auditLog.id,
      at: auditLog.at,
      actorLabel: auditLog.actorLabel,
      actorType: auditLog.actorType,
      role: auditLog.role,
      action: auditLog.action,
      targetType: auditLog.targetType,
      targetId: auditLog.targetId,
      outcome: auditLog.outcome,
    })
    .from(auditLog)
    .orderBy(desc(auditLog.id))
    .limit(Math.min(Math.max(limit, 1), 500));
}
