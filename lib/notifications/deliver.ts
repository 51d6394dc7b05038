import 'server-only';
import { createHash } from 'node:crypto';
import { and, eq, lte, sql } from 'drizzle-orm';
import { uuidIn } from '@/db/any-of';
import { getDb, type DbOrTx, type Tx } from '@/db/client';
import { notificationDeliveries, type NotificationDelivery } from '@/db/schema';
import { env } from '@/lib/env';
import { isAppError } from '@/lib/errors';
import { safeFetch, type SafeFetchInit } from '@/lib/oauth/safe-fetch';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { redactSecrets } from '@/lib/redact';
import { readWebhookConfig, webhookDestination, webhookTarget } from './settings';

export type NotificationKind = NotificationDelivery['kind'];
export type NotificationPayload = { text: string; [key: string]: unknown };

export type DeliverDeps = {
  fetchInit?: Omit<SafeFetchInit, 'method' | 'headers' | 'body' | 'policy'>;
  maxAttempts?: number;
  /** Base of the exponential back-off between attempts (default 30 s). */
  backoffSeconds?: number;
};

/**
 * Queues a notification once per event key (a retry or a second instance finds the row). Nothing
 * is queued when no webhook is configured. Keys that look like secrets are removed defensively:
 * notifications carry names, client ids and dates, never a credential.
 */
export async function enqueueNotification(kind: NotificationKind, eventKey: string, payload: NotificationPayload, db: DbOrTx = getDb()): Promise<string | null> {
  // Read on the caller's connection: inside a transaction a second one from the pool could wait
  // forever when every connection is held by such a transaction.
  const target = await webhookTarget(db);
  if (!target) return null;
  return insertDelivery(db, kind, eventKey, payload, target.destination);
}

async function insertDelivery(db: DbOrTx, kind: NotificationKind, eventKey: string, payload: NotificationPayload, destination: string): Promise<string | null> {
  const [row] = await db
    .insert(notificationDeliveries)
    .values({ kind, eventKey, payload: redactSecrets(payload), destination })
    .onConflictDoNothing()
    .returning({ id: notificationDeliveries.id });
  return row?.id ?? null;
}

/**
 * Commits a monitor run's new states together with the one notification that reports them, keyed
 * by `scope`, the minute and the changes: a state saved without its notification would hide the
 * change from every later run, and it would never be sent. So with no webhook target (none
 * configured, or switched off) nothing is saved: the stored states stay the ones last notified,
 * and the first run once a webhook is on again reports, in one message, what changed since then
 * (from the state last notified to the current one, not every step in between).
 * `save` stores the changes whose stored state is still the one they were computed from and
 * returns those: a run at the same time may have stored and notified the others already.
 */
export async function saveWithNotification<C>(
  scope: string,
  now: Date,
  save: (tx: Tx) => Promise<C[]>,
  notification: (saved: C[]) => { key: readonly unknown[]; payload: NotificationPayload },
): Promise<{ id: string | null; saved: C[] }> {
  return getDb().transaction(async (tx) => {
    // Read once: deciding to save and then finding no target when queuing would lose the change.
    const target = await webhookTarget(tx);
    if (!target) return { id: null, saved: [] };
    const saved = await save(tx);
    if (saved.length === 0) return { id: null, saved };
    const { key, payload } = notification(saved);
    const digest = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 32);
    const id = await insertDelivery(tx, 'expiry_change', `${scope}:${now.toISOString().slice(0, 16)}:${digest}`, payload, target.destination);
    return { id, saved };
  });
}

export type DeliveryRun = { delivered: number; retried: number; failed: number };

/**
 * Delivers due notifications to the webhook through the safe outbound fetch (SSRF policy and the
 * outbound allowlist apply). A non-2xx answer or a transport error is retried with exponential
 * back-off; after the last attempt the delivery is `failed` and shown in Settings → Notifications.
 * Rows are leased (next_attempt_at moved ahead under SKIP LOCKED), so instances never send twice.
 */
export async function deliverPendingNotifications(deps: DeliverDeps = {}): Promise<DeliveryRun> {
  const webhook = await readWebhookConfig();
  const result: DeliveryRun = { delivered: 0, retried: 0, failed: 0 };
  if (!webhook) return result;
  const maxAttempts = deps.maxAttempts ?? env().REGISTRAR_NOTIFY_MAX_ATTEMPTS;
  const backoff = deps.backoffSeconds ?? 30;
  const timeoutMs = deps.fetchInit?.totalTimeoutMs ?? 10_000;
  const policy = await currentOutboundPolicy();
  // One row leased at a time, for longer than its one POST may take: a lease taken for a whole
  // batch could run out while the batch's later rows were still waiting, and another run (a second
  // instance, the digest job, the Settings buttons) would then send those rows too.
  const leaseSeconds = Math.ceil(timeoutMs / 1000) + 60;
  // Each row at most once per run: one whose retry is due at once waits for the next run.
  const tried: string[] = [];
  for (let sent = 0; sent < 50; sent++) {
    const leased = await getDb().execute<{ id: string; attempts: number; payload: NotificationPayload }>(sql`
      update ${notificationDeliveries} set next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
       where id = (select id from ${notificationDeliveries}
                    where status = 'pending' and next_attempt_at <= now() and not ${uuidIn(notificationDeliveries.id, tried)}
                    order by next_attempt_at, created_at limit 1 for update skip locked)
      returning id, attempts, payload`);
    const row = leased.rows[0];
    if (!row) break;
    tried.push(row.id);
    const attempts = row.attempts + 1;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await safeFetch(webhook.url, {
        totalTimeoutMs: timeoutMs,
        ...deps.fetchInit,
        policy,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/plain' },
        body: JSON.stringify(row.payload),
      });
      status = res.status;
      if (res.status < 200 || res.status >= 300) error = `The webhook answered HTTP ${res.status}.`;
    } catch (e) {
      // safeFetch's messages name the origin and path only; the path is dropped here too.
      error = isAppError(e) ? `${e.code}: delivery to ${webhookDestination(webhook.url)} failed.` : 'Delivery failed unexpectedly.';
    }
    const now = new Date();
    if (!error) {
      await getDb()
        .update(notificationDeliveries)
        .set({ status: 'delivered', attempts, lastStatus: status, lastError: null, deliveredAt: now })
        .where(eq(notificationDeliveries.id, row.id));
      result.delivered++;
    } else if (attempts >= maxAttempts) {
      await getDb().update(notificationDeliveries).set({ status: 'failed', attempts, lastStatus: status, lastError: error }).where(eq(notificationDeliveries.id, row.id));
      result.failed++;
    } else {
      const nextAttemptAt = new Date(now.getTime() + backoff * 1000 * 2 ** (attempts - 1));
      await getDb().update(notificationDeliveries).set({ attempts, lastStatus: status, lastError: error, nextAttemptAt }).where(eq(notificationDeliveries.id, row.id));
      result.retried++;
    }
  }
  return result;
}

/** Pending deliveries whose retry time has come (for tests and the job's "anything left?" check). */
export async function countDueDeliveries(now = new Date()): Promise<number> {
  const [row] = await getDb()
    .select({ n: sql<number>`count(*)::int` })
    .from(notificationDeliveries)
    .where(and(eq(notificationDeliveries.status, 'pending'), lte(notificationDeliveries.nextAttemptAt, now)));
  return row?.n ?? 0;
}
