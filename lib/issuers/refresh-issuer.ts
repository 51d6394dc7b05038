import 'server-only';
import { and, desc, eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { isUniqueViolation } from '@/db/errors';
import { discoveryRuns, issuers, type DISCOVERY_TRIGGERS } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { AppError, isAppError } from '@/lib/errors';
import { diffDiscoveries, discover, type DiscoveryResult } from '@/lib/oauth/discovery';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import type { OutboundPolicy } from '@/lib/oauth/safe-fetch';
import { discoverySummary, issuerColumnsFromDiscovery } from './discovery-record';

export type RefreshOutcome = { issuerId: string; outcome: 'ok' | 'failed'; changes: number; needsAttention: boolean; error: { code: string; message: string } | null };

/**
 * Re-runs discovery for one issuer and stores the run. A failed run keeps the last good metadata
 * and records the error; a change of the registration or token endpoint flags the issuer.
 */
export async function refreshIssuer(
  actor: Actor,
  issuerId: string,
  opts: { trigger?: (typeof DISCOVERY_TRIGGERS)[number]; policy?: OutboundPolicy } = {},
): Promise<RefreshOutcome> {
  assertCan(actor, 'health-systems:write');
  const [issuer] = await getDb()
    .select({ id: issuers.id, inputUrl: issuers.inputUrl, epicClientId: issuers.epicClientId })
    .from(issuers)
    .where(eq(issuers.id, issuerId))
    .limit(1);
  if (!issuer) throw new AppError('NOT_FOUND', 'That issuer does not exist.');

  const startedAt = new Date();
  let result: DiscoveryResult | null = null;
  let error: { code: string; message: string } | null = null;
  try {
    result = await discover(issuer.inputUrl, { epicClientId: issuer.epicClientId ?? undefined, fetchInit: { policy: opts.policy ?? (await currentOutboundPolicy()) } });
    if (result.failure) error = { code: result.failure.code, message: result.failure.message };
  } catch (e) {
    if (!isAppError(e)) throw e;
    error = { code: e.code, message: e.message };
  }

  return auditedMutation(
    actor,
    { action: 'issuer.refresh', targetType: 'issuer', targetId: issuerId, details: { trigger: opts.trigger ?? 'manual' } },
    async (tx) => {
      await tx.select({ id: issuers.id }).from(issuers).where(eq(issuers.id, issuerId)).for('update');
      const [previous] = await tx
        .select({ result: discoveryRuns.result })
        .from(discoveryRuns)
        .where(and(eq(discoveryRuns.issuerId, issuerId), eq(discoveryRuns.outcome, 'ok')))
        .orderBy(desc(discoveryRuns.finishedAt))
        .limit(1);
      const ok = result !== null && error === null;
      const changes = ok ? diffDiscoveries((previous?.result as unknown as DiscoveryResult) ?? null, result!) : [];
      const attention = changes.some((c) => c.attention);
      await tx.insert(discoveryRuns).values({
        issuerId,
        trigger: opts.trigger ?? 'manual',
        outcome: ok ? 'ok' : 'failed',
        startedAt,
        result: (result ?? { failure: error, discoveredAt: new Date().toISOString() }) as unknown as Record<string, unknown>,
        changes,
        needsAttention: attention,
      });
      if (ok) {
        const reason = attention ? `Changed since the last discovery: ${changes.filter((c) => c.attention).map((c) => c.field).join(', ')}` : undefined;
        await tx
          .update(issuers)
          .set({ ...issuerColumnsFromDiscovery(result!), updatedAt: new Date(), ...(attention ? { needsAttention: true, attentionReason: reason } : {}) })
          .where(eq(issuers.id, issuerId))
          .catch((e: unknown) => {
            if (isUniqueViolation(e)) throw new AppError('CONFLICT', `The server now calls itself ${result!.issuer}, which another issuer already uses.`);
            throw e;
          });
      } else {
        await tx.update(issuers).set({ lastError: { ...error!, at: new Date().toISOString() }, updatedAt: new Date() }).where(eq(issuers.id, issuerId));
      }
      return {
        result: { issuerId, outcome: ok ? 'ok' : 'failed', changes: changes.length, needsAttention: attention, error } satisfies RefreshOutcome,
        details: result ? discoverySummary(result) : { error: error?.code },
      };
    },
  );
}

/** A person has looked at a flagged change (e.g. updated registrations after a token endpoint moved). */
export async function acknowledgeIssuerChange(actor: Actor, issuerId: string) {
  assertCan(actor, 'health-systems:write');
  return auditedMutation(actor, { action: 'issuer.acknowledge_change', targetType: 'issuer', targetId: issuerId }, async (tx) => {
    const updated = await tx.update(issuers).set({ needsAttention: false, attentionReason: null, updatedAt: new Date() }).where(eq(issuers.id, issuerId)).returning({ id: issuers.id });
    if (updated.length === 0) throw new AppError('NOT_FOUND', 'That issuer does not exist.');
    return { result: { issuerId } };
  });
}
