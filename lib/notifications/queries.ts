import 'server-only';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { notificationDeliveries } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { deliverPendingNotifications, enqueueNotification } from './deliver';
import { deliveryIdSchema, type DeliveryIdInput } from './schemas';
import { webhookTarget } from './settings';
import { slackText, unescapeSlackText } from './slack-text';

export type DeliveryRow = {
  id: string;
  kind: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  destination: string | null;
  text: string;
  createdAt: string;
  deliveredAt: string | null;
  nextAttemptAt: string;
};

/** Recent deliveries, failures first when `failedOnly` (Settings → Notifications). */
export async function listNotificationDeliveries(actor: Actor, opts: { failedOnly?: boolean; limit?: number } = {}): Promise<DeliveryRow[]> {
  assertCan(actor, 'settings:manage');
  const rows = await getDb()
    .select({
      id: notificationDeliveries.id,
      kind: notificationDeliveries.kind,
      status: notificationDeliveries.status,
      attempts: notificationDeliveries.attempts,
      lastStatus: notificationDeliveries.lastStatus,
      lastError: notificationDeliveries.lastError,
      destination: notificationDeliveries.destination,
      payload: notificationDeliveries.payload,
      createdAt: notificationDeliveries.createdAt,
      deliveredAt: notificationDeliveries.deliveredAt,
      nextAttemptAt: notificationDeliveries.nextAttemptAt,
    })
    .from(notificationDeliveries)
    .where(opts.failedOnly ? inArray(notificationDeliveries.status, ['failed']) : undefined)
    .orderBy(desc(notificationDeliveries.createdAt))
    .limit(Math.min(opts.limit ?? 50, 500));
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    status: r.status,
    attempts: r.attempts,
    lastStatus: r.lastStatus,
    lastError: r.lastError,
    destination: r.destination,
    // As the channel shows it: the sent text has names escaped for Slack (&lt; for <).
    text: typeof r.payload.text === 'string' ? unescapeSlackText(r.payload.text) : '',
    createdAt: r.createdAt.toISOString(),
    deliveredAt: r.deliveredAt?.toISOString() ?? null,
    nextAttemptAt: r.nextAttemptAt.toISOString(),
  }));
}

/** Sends a failed delivery again (its attempts start over). */
export async function retryNotificationDelivery(actor: Actor, input: DeliveryIdInput): Promise<{ id: string }> {
  assertCan(actor, 'settings:manage');
  const { id } = deliveryIdSchema.parse(input);
  const [row] = await getDb()
    .update(notificationDeliveries)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: new Date() })
    .where(and(eq(notificationDeliveries.id, id), eq(notificationDeliveries.status, 'failed')))
    .returning({ id: notificationDeliveries.id });
  if (!row) {
    // Only a failed delivery is sent again: a delivered one would reach the channel twice.
    const [existing] = await getDb().select({ status: notificationDeliveries.status }).from(notificationDeliveries).where(eq(notificationDeliveries.id, id));
    if (!existing) throw new AppError('NOT_FOUND', 'That delivery does not exist.');
    throw new AppError('CONFLICT', existing.status === 'delivered' ? 'That notification was delivered already; it is not sent again.' : 'That notification is still being delivered (retries are automatic).');
  }
  await recordAudit(getDb(), actor, { action: 'notifications.retry', targetType: 'notification', targetId: id });
  await deliverPendingNotifications();
  return row;
}

/** Queues and delivers a test message, so that the webhook and the allowlist can be checked from Settings. */
export async function sendTestNotification(actor: Actor): Promise<{ id: string | null }> {
  assertCan(actor, 'settings:manage');
  if (!(await webhookTarget())) throw new AppError('INVALID', 'Configure and enable a webhook first.');
  const at = new Date().toISOString();
  const id = await enqueueNotification('test', `test:${at}:${Math.random().toString(36).slice(2)}`, { text: slackText`Registrar test notification (${at.slice(0, 19).replace('T', ' ')} UTC): the webhook works.` });
  await recordAudit(getDb(), actor, { action: 'notifications.test', targetType: 'settings' });
  await deliverPendingNotifications();
  return { id };
}
