import 'server-only';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { auditLog, healthSystems, issuers, registrations } from '@/db/schema';
import { actorCan, assertCan, type Actor } from '@/lib/auth/actor';
import { secretInUse } from '@/lib/registrations/table';

export type ForecastWeek = { weekStart: string; total: number; byKey: Record<string, number> };

/**
 * The managers' overview: counts by state, what expires in 7/30/90 days, a 180-day weekly forecast
 * (stacked by status or by health system), what needs attention, and recent activity.
 */
export async function getOverview(actor: Actor, opts: { stackBy: 'status' | 'healthSystem' }) {
  assertCan(actor, 'registrations:read');
  const db = getDb();
  const live = secretInUse;
  const [byStatus, expiring, forecastRows, attention, issuerAttention] = await Promise.all([
    db.select({ status: registrations.status, n: sql<number>`count(*)::int` }).from(registrations).groupBy(registrations.status),
    db
      .select({
        d7: sql<number>`count(*) filter (where ${registrations.secretExpiresAt} <= now() + interval '7 days')::int`,
        d30: sql<number>`count(*) filter (where ${registrations.secretExpiresAt} <= now() + interval '30 days')::int`,
        d90: sql<number>`count(*) filter (where ${registrations.secretExpiresAt} <= now() + interval '90 days')::int`,
        expired: sql<number>`count(*) filter (where ${registrations.secretExpiresAt} <= now())::int`,
      })
      .from(registrations)
      .where(and(live, sql`${registrations.secretExpiresAt} is not null`)),
    db
      .select({
        week: sql<string>`to_char(date_trunc('week', ${registrations.secretExpiresAt}), 'YYYY-MM-DD')`,
        key: opts.stackBy === 'status' ? sql<string>`${registrations.status}` : sql<string>`${healthSystems.name}`,
        n: sql<number>`count(*)::int`,
      })
      .from(registrations)
      .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
      .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
      .where(and(live, sql`${registrations.secretExpiresAt} >= date_trunc('week', now()) and ${registrations.secretExpiresAt} < now() + interval '180 days'`))
      .groupBy(sql`1`, sql`2`)
      .orderBy(sql`1`),
    db
      .select({ id: registrations.id, clientId: registrations.clientId, status: registrations.status, reason: registrations.attentionReason, healthSystemName: healthSystems.name })
      .from(registrations)
      .innerJoin(issuers, eq(issuers.id, registrations.issuerId))
      .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
      .where(inArray(registrations.status, ['needs_attention', 'management_lost']))
      .orderBy(desc(registrations.updatedAt))
      .limit(20),
    db
      .select({ id: issuers.id, healthSystemId: issuers.healthSystemId, url: issuers.issuerUrl, reason: issuers.attentionReason, healthSystemName: healthSystems.name })
      .from(issuers)
      .innerJoin(healthSystems, eq(healthSystems.id, issuers.healthSystemId))
      .where(eq(issuers.needsAttention, true))
      .limit(20),
  ]);
  const recent = actorCan(actor, 'audit:read')
    ? await db
        .select({ id: auditLog.id, at: auditLog.at, actorLabel: auditLog.actorLabel, action: auditLog.action, outcome: auditLog.outcome })
        .from(auditLog)
        .orderBy(desc(auditLog.id))
        .limit(10)
    : null;

  // 26 weekly buckets from this week's Monday (UTC), empty weeks included, so the chart has a time axis.
  const weeks = new Map<string, ForecastWeek>();
  const monday = new Date();
  monday.setUTCHours(0, 0, 0, 0);
  monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
  for (let i = 0; i < 26; i++) {
    const d = new Date(monday.getTime() + i * 7 * 86_400_000).toISOString().slice(0, 10);
    weeks.set(d, { weekStart: d, total: 0, byKey: {} });
  }
  for (const row of forecastRows) {
    const week = weeks.get(row.week) ?? { weekStart: row.week, total: 0, byKey: {} };
    week.total += row.n;
    week.byKey[row.key] = (week.byKey[row.key] ?? 0) + row.n;
    weeks.set(row.week, week);
  }
  return {
    byStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])) as Record<string, number>,
    expiring: expiring[0] ?? { d7: 0, d30: 0, d90: 0, expired: 0 },
    forecast: [...weeks.values()],
    attention,
    issuerAttention,
    recent,
  };
}
