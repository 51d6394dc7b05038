import 'server-only';
import { and, desc, eq } from 'drizzle-orm';
import { getDb, type Tx } from '@/db/client';
import { isUniqueViolation } from '@/db/errors';
import { discoveryRuns, issuers, type DISCOVERY_TRIGGERS, type Issuer } from '@/db/schema';
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
  opts: {
    trigger?: (typeof DISCOVERY_TRIGGERS)[number];
    policy?: OutboundPolicy;
    /**
     * Held fields a person's own audited action asked to change, which this run applies instead of
     * holding (setIssuerEpicClientId: Epic publishes `register` only to the client id it is sent).
     */
    accept?: readonly HeldField[];
  } = {},
): Promise<RefreshOutcome> {
  assertCan(actor, 'health-systems:write');
  const policy = opts.policy ?? (await currentOutboundPolicy());
  let issuer = await discoveryInputs(issuerId);
  let startedAt: Date;
  let result: DiscoveryResult | null;
  let error: { code: string; message: string } | null;
  for (let attempt = 1; ; attempt++) {
    startedAt = new Date();
    result = null;
    error = null;
    try {
      result = await discover(issuer.inputUrl, { epicClientId: issuer.epicClientId ?? undefined, fetchInit: { policy } });
      if (result.failure) error = { code: result.failure.code, message: result.failure.message };
    } catch (e) {
      if (!isAppError(e)) throw e;
      error = { code: e.code, message: e.message };
    }
    // Someone set the Epic client ID meanwhile (their own refresh applies it): what this run read
    // was asked without it, and Epic publishes its registration endpoint only to that ID. Storing
    // it would flag the issuer for a change that is not one; ask again with what is there now.
    const now = await discoveryInputs(issuerId);
    if (sameInputs(now, issuer)) break;
    if (attempt >= 3) throw new AppError('CONFLICT', 'The issuer’s address or Epic client ID kept changing while it was being refreshed. Refresh it again.');
    issuer = now;
  }
  const asked = issuer;

  return auditedMutation(
    actor,
    { action: 'issuer.refresh', targetType: 'issuer', targetId: issuerId, details: { trigger: opts.trigger ?? 'manual' } },
    async (tx) => {
      const { accepted, lastGood: previous } = await lockIssuerWithLastGoodDiscovery(tx, issuerId);
      if (!sameInputs(accepted, asked)) throw new AppError('CONFLICT', 'The issuer’s address or Epic client ID changed while it was being refreshed. Refresh it again.');
      const lost = result && error === null ? documentsNowFailing(previous, result) : null;
      if (lost) error = lost;
      const ok = result !== null && error === null;
      const changes = ok ? diffDiscoveries(previous, result!) : [];
      const columns = ok ? issuerColumnsFromDiscovery(result!) : null;
      const published = columns ? heldChanges(accepted, columns) : [];
      const applied = published.filter((h) => opts.accept?.includes(h.field));
      const held = published.filter((h) => !opts.accept?.includes(h.field));
      await tx.insert(discoveryRuns).values({
        issuerId,
        trigger: opts.trigger ?? 'manual',
        outcome: ok ? 'ok' : 'failed',
        startedAt,
        result: (result ?? { failure: error, discoveredAt: new Date().toISOString() }) as unknown as Record<string, unknown>,
        changes,
        needsAttention: held.length > 0,
      });
      if (columns) {
        await tx
          .update(issuers)
          .set({ ...withAcceptedIdentity(columns, accepted, held), updatedAt: new Date(), needsAttention: held.length > 0, attentionReason: held.length > 0 ? heldReason(held) : null })
          .where(eq(issuers.id, issuerId));
      } else {
        await tx.update(issuers).set({ lastError: { ...error!, at: new Date().toISOString() }, updatedAt: new Date() }).where(eq(issuers.id, issuerId));
      }
      return {
        result: { issuerId, outcome: ok ? 'ok' : 'failed', changes: changes.length, needsAttention: held.length > 0, error } satisfies RefreshOutcome,
        details: {
          ...(result ? discoverySummary(result) : { error: error?.code }),
          ...(held.length ? { held: held.map((h) => ({ field: h.field, accepted: h.accepted, published: h.published })) } : {}),
          ...(applied.length ? { appliedWithoutHold: applied.map((h) => ({ field: h.field, before: h.accepted, after: h.published })) } : {}),
        },
      };
    },
  );
}

/**
 * A document the last good discovery read that errs this time (a timeout, a 503; not a 404 or 410,
 * which say it is gone). The other documents may still name a token endpoint, but what the
 * missing one supplied (scopes, auth methods, PKCE, capabilities, or the winning endpoint values)
 * would be replaced by less or by lower-precedence values: the run counts as failed and the last
 * good metadata stays, until a refresh reads every document again or it is really gone.
 */
function documentsNowFailing(previous: DiscoveryResult | null, next: DiscoveryResult): { code: string; message: string } | null {
  if (!previous) return null;
  const failing = next.attempts.filter((a) => a.outcome === 'error' && a.status !== 404 && a.status !== 410 && a.kind in previous.documents && !(a.kind in next.documents));
  if (failing.length === 0) return null;
  const list = failing.map((a) => `${a.url} (${a.message})`).join('; ');
  return { code: 'DISCOVERY_FAILED', message: `Not every document the last discovery read could be read this time: ${list}. The last good metadata is kept; the next refresh tries again.` };
}

/*
 * The issuer identifier, the token endpoint and the registration endpoint decide where Registrar
 * sends client secrets, signed assertions and registration requests. When the hospital's documents
 * start naming different ones (a move, a misconfiguration, a compromised front end), a refresh does
 * not follow them: Registrar keeps the values a person accepted, flags the issuer and shows both,
 * and uses the new ones only once a person accepts them (acceptIssuerChange), or when a person's own
 * audited change asked for them (setIssuerEpicClientId passes `accept`). Everything else a refresh
 * finds (scopes, methods, capabilities) is applied at once.
 */
type Accepted = { issuerUrl: string | null; endpoints: Issuer['endpoints'] };
export type HeldField = 'issuer' | 'endpoints.token' | 'endpoints.registration';
type HeldChange = { field: HeldField; accepted: string | null; published: string | null };

function heldChanges(accepted: Accepted, columns: Partial<Issuer>): HeldChange[] {
  const held: HeldChange[] = [];
  const compare = (field: HeldChange['field'], before: string | null, after: string | null) => {
    if (before !== after) held.push({ field, accepted: before, published: after });
  };
  compare('issuer', accepted.issuerUrl, columns.issuerUrl ?? null);
  compare('endpoints.token', accepted.endpoints.token?.value ?? null, columns.endpoints?.token?.value ?? null);
  compare('endpoints.registration', accepted.endpoints.registration?.value ?? null, columns.endpoints?.registration?.value ?? null);
  return held;
}

/** The discovered columns with the held fields kept as accepted. */
function withAcceptedIdentity(columns: Partial<Issuer>, accepted: Accepted, held: HeldChange[]): Partial<Issuer> {
  if (held.length === 0) return columns;
  const endpoints = { ...columns.endpoints };
  for (const name of ['token', 'registration'] as const) {
    if (!held.some((h) => h.field === `endpoints.${name}`)) continue;
    if (accepted.endpoints[name]) endpoints[name] = accepted.endpoints[name];
    else delete endpoints[name];
  }
  return { ...columns, issuerUrl: accepted.issuerUrl, endpoints };
}

const HELD_LABEL: Record<HeldChange['field'], string> = { issuer: 'issuer identifier', 'endpoints.token': 'token endpoint', 'endpoints.registration': 'registration endpoint' };

function heldReason(held: HeldChange[]): string {
  const list = held.map((h) => `${HELD_LABEL[h.field]} ${h.accepted ?? '(none)'} → ${h.published ?? '(none)'}`).join('; ');
  return `The hospital now publishes a different ${list}. Registrar keeps using the accepted value${held.length > 1 ? 's' : ''} (no credential goes to the new address) until someone confirms the change with the hospital and accepts it.`;
}

/**
 * A person confirmed with the hospital that its new issuer identifier, token endpoint or registration
 * endpoint is genuine: Registrar starts using the values of the latest successful discovery.
 */
export async function acceptIssuerChange(actor: Actor, issuerId: string, opts: { seenReason?: string | null } = {}) {
  assertCan(actor, 'health-systems:write');
  return auditedMutation(actor, { action: 'issuer.accept_change', targetType: 'issuer', targetId: issuerId }, async (tx) => {
    const { accepted, lastGood: latest } = await lockIssuerWithLastGoodDiscovery(tx, issuerId);
    const columns = latest ? issuerColumnsFromDiscovery(latest) : null;
    const held = columns ? heldChanges(accepted, columns) : [];
    // What the person confirmed with the hospital is what the page showed: a discovery since then
    // that published other values (a second move, a compromised front end) is not accepted blindly.
    if (opts.seenReason !== undefined && held.length > 0 && heldReason(held) !== opts.seenReason) {
      throw new AppError('CONFLICT', `The hospital’s documents changed since this page was loaded. ${heldReason(held)} Check these values with the hospital, then accept again.`);
    }
    await tx
      .update(issuers)
      .set({ ...(columns && held.length ? { issuerUrl: columns.issuerUrl, endpoints: columns.endpoints } : {}), needsAttention: false, attentionReason: null, updatedAt: new Date() })
      .where(eq(issuers.id, issuerId))
      .catch((e: unknown) => {
        if (isUniqueViolation(e)) throw new AppError('CONFLICT', `The server now calls itself ${columns?.issuerUrl}, which another issuer already uses.`);
        throw e;
      });
    return { result: { issuerId, accepted: held.map((h) => h.field) }, details: { accepted: held } };
  });
}

type DiscoveryInputs = { inputUrl: string; epicClientId: string | null };

/** What discovery is asked with: the address the person entered and the Epic client ID sent with it. */
async function discoveryInputs(issuerId: string): Promise<DiscoveryInputs> {
  const [issuer] = await getDb().select({ inputUrl: issuers.inputUrl, epicClientId: issuers.epicClientId }).from(issuers).where(eq(issuers.id, issuerId)).limit(1);
  if (!issuer) throw new AppError('NOT_FOUND', 'That issuer does not exist.');
  return issuer;
}

const sameInputs = (a: DiscoveryInputs, b: DiscoveryInputs) => a.inputUrl === b.inputUrl && a.epicClientId === b.epicClientId;

/** The issuer's accepted identity and discovery inputs, locked for the change, and its latest successful discovery (null before any). */
async function lockIssuerWithLastGoodDiscovery(tx: Tx, issuerId: string): Promise<{ accepted: Accepted & DiscoveryInputs; lastGood: DiscoveryResult | null }> {
  const [accepted] = await tx
    .select({ issuerUrl: issuers.issuerUrl, endpoints: issuers.endpoints, inputUrl: issuers.inputUrl, epicClientId: issuers.epicClientId })
    .from(issuers)
    .where(eq(issuers.id, issuerId))
    .for('update');
  if (!accepted) throw new AppError('NOT_FOUND', 'That issuer does not exist.');
  const [lastGood] = await tx
    .select({ result: discoveryRuns.result })
    .from(discoveryRuns)
    .where(and(eq(discoveryRuns.issuerId, issuerId), eq(discoveryRuns.outcome, 'ok')))
    .orderBy(desc(discoveryRuns.finishedAt))
    .limit(1);
  return { accepted, lastGood: (lastGood?.result as unknown as DiscoveryResult | undefined) ?? null };
}
