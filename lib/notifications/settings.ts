import 'server-only';
import { getDb, type DbOrTx } from '@/db/client';
import { recordAudit } from '@/lib/audit/record';
import { SETTINGS_CREDENTIAL_OWNER } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { readCurrentCredential, replaceCurrentCredentials, retireCurrentCredential } from '@/lib/credentials/store';
import { vaultStatus } from '@/lib/credentials/vault';
import { getSetting, putSetting } from '@/lib/settings/store';
import { webhookSettingsSchema, type WebhookSettingsInput } from './schemas';

const KEY = 'notifications.webhook';

/**
 * The setting holds whether the webhook is on and where it goes (the origin); the URL itself is a
 * credential in the vault: a Slack or Teams webhook URL is a bearer secret (anyone who has it can
 * post), so it never sits in a plain column. `url`: where an earlier version kept it in plaintext,
 * moved into the vault the next time it is read.
 */
type Stored = { enabled: boolean; destination?: string | null; url?: string };

/** Scheme, host and port: a webhook URL's path is often itself a secret (Slack, Teams), so only this is ever shown or logged. */
export function webhookDestination(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Where notifications go (the origin), or null when no webhook is configured or it is switched off.
 * Reads no secret, so queuing a notification works while the vault is locked: the delivery then
 * waits (pending) until it opens, instead of the event being lost.
 */
export async function webhookTarget(db: DbOrTx = getDb()): Promise<{ destination: string } | null> {
  const view = viewOf(await getSetting<Stored>(KEY, db));
  return view.enabled && view.destination ? { destination: view.destination } : null;
}

/** The webhook to deliver to, or null when none is configured or it is switched off. Internal: carries the full URL; VAULT_LOCKED when the vault is. */
export async function readWebhookConfig(): Promise<{ url: string; enabled: true } | null> {
  const stored = await getSetting<Stored>(KEY);
  if (stored?.url && vaultStatus().status === 'ok') await moveLegacyUrlIntoVault(stored.url, stored.enabled);
  if (!stored?.enabled) return null;
  const url = stored.url || (await readCurrentCredential(getDb(), 'settings', SETTINGS_CREDENTIAL_OWNER, 'webhook_url'))?.plaintext;
  return url ? { url, enabled: true } : null;
}

export type WebhookSettingsView = { configured: boolean; enabled: boolean; destination: string | null };

function viewOf(stored: Stored | null): WebhookSettingsView {
  const destination = stored?.destination ?? (stored?.url ? webhookDestination(stored.url) : null);
  return { configured: destination !== null, enabled: destination !== null && Boolean(stored?.enabled), destination };
}

export async function getWebhookSettings(actor: Actor): Promise<WebhookSettingsView> {
  assertCan(actor, 'settings:manage');
  return viewOf(await getSetting<Stored>(KEY));
}

/**
 * Sets the notification webhook. Deliveries go through the safe outbound fetch, so a host on a
 * private network (or plain http) must be on the outbound allowlist like any other call. The URL
 * is write-only: saved without one, the stored URL is kept.
 */
export async function setWebhookSettings(actor: Actor, input: WebhookSettingsInput): Promise<WebhookSettingsView> {
  assertCan(actor, 'settings:manage');
  const data = webhookSettingsSchema.parse(input);
  const stored = await getSetting<Stored>(KEY);
  const url = data.clear ? null : data.url || stored?.url || null;
  const destination = data.clear ? null : url ? webhookDestination(url) : (viewOf(stored).destination ?? null);
  const next: Stored = { enabled: destination !== null && data.enabled, destination };
  await getDb().transaction(async (tx) => {
    if (url) await replaceCurrentCredentials(tx, 'settings', SETTINGS_CREDENTIAL_OWNER, [{ kind: 'webhook_url', plaintext: url }]);
    if (data.clear) await retireCurrentCredential(tx, 'settings', SETTINGS_CREDENTIAL_OWNER, 'webhook_url');
    await putSetting(tx, KEY, next);
    await recordAudit(tx, actor, { action: 'notifications.webhook', targetType: 'settings', details: { destination, enabled: next.enabled, cleared: Boolean(data.clear) } });
  });
  return viewOf(next);
}

/** A URL an earlier version stored in plaintext goes into the vault, and out of the setting, in one transaction. */
async function moveLegacyUrlIntoVault(url: string, enabled: boolean): Promise<void> {
  await getDb().transaction(async (tx) => {
    await replaceCurrentCredentials(tx, 'settings', SETTINGS_CREDENTIAL_OWNER, [{ kind: 'webhook_url', plaintext: url }]);
    await putSetting(tx, KEY, { enabled, destination: webhookDestination(url) } satisfies Stored);
  });
}
