import 'server-only';
import { getDb } from '@/db/client';
import { recordAudit } from '@/lib/audit/record';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { getSetting, putSetting } from '@/lib/settings/store';
import { webhookSettingsSchema, type WebhookSettingsInput } from './schemas';

const KEY = 'notifications.webhook';

type Stored = { url: string; enabled: boolean };

/** Scheme, host and port: a webhook URL's path is often itself a secret (Slack, Teams), so only this is ever shown or logged. */
export function webhookDestination(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/** The webhook to deliver to, or null when none is configured or it is switched off. Internal: carries the full URL. */
export async function readWebhookConfig(): Promise<Stored | null> {
  const stored = await getSetting<Stored>(KEY);
  return stored && stored.enabled && stored.url ? stored : null;
}

export type WebhookSettingsView = { configured: boolean; enabled: boolean; destination: string | null };

export async function getWebhookSettings(actor: Actor): Promise<WebhookSettingsView> {
  assertCan(actor, 'settings:manage');
  const stored = await getSetting<Stored>(KEY);
  return { configured: Boolean(stored?.url), enabled: Boolean(stored?.enabled && stored.url), destination: stored?.url ? webhookDestination(stored.url) : null };
}

/**
 * Sets the notification webhook. Deliveries go through the safe outbound fetch, so a host on a
 * private network (or plain http) must be on the outbound allowlist like any other call.
 */
export async function setWebhookSettings(actor: Actor, input: WebhookSettingsInput): Promise<WebhookSettingsView> {
  assertCan(actor, 'settings:manage');
  const data = webhookSettingsSchema.parse(input);
  const stored = await getSetting<Stored>(KEY);
  const url = data.clear ? '' : data.url || stored?.url || '';
  const enabled = url !== '' && data.enabled;
  await getDb().transaction(async (tx) => {
    await putSetting(tx, KEY, { url, enabled });
    await recordAudit(tx, actor, { action: 'notifications.webhook', targetType: 'settings', details: { destination: url ? webhookDestination(url) : null, enabled, cleared: Boolean(data.clear) } });
  });
  return { configured: url !== '', enabled, destination: url ? webhookDestination(url) : null };
}
