import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { env } from '@/lib/env';
import { saveWithNotification } from './deliver';
import { bySeverity, EXPIRY_PAYLOAD_CHANGES, EXPIRY_TEXT_LINES, expiryThresholds, monitorStateOf, type MonitorState } from './monitor';
import { slackText } from './slack-text';
import { APP_CREDENTIAL_STATE_TABLE, storeMonitoredStates } from './state-store';

export type AppCredentialKind = 'private_key' | 'certificate';

export type AppCredentialChange = {
  subject: AppCredentialKind;
  /** app_keys.id or app_certificates.id. */
  id: string;
  app: string;
  environment: string;
  /** The key's kid, or the certificate's subject. */
  label: string;
  from: MonitorState | null;
  to: MonitorState;
  thresholdDays: number | null;
  /** The key's maximum age reached, or the certificate's notAfter. */
  expiresAt: string;
};

type Row = { subject: AppCredentialKind; id: string; app: string; environment: string; label: string; expires_at: Date | string; state: MonitorState | null; threshold_days: number | null };

function describe(c: AppCredentialChange, maxAgeDays: number): string {
  const what = c.subject === 'private_key' ? slackText`private key ${c.label}` : slackText`UDAP client certificate "${c.label}"`;
  const when = slackText` (${c.expiresAt.slice(0, 16).replace('T', ' ')} UTC)`;
  const state =
    c.to === 'expiring'
      ? c.subject === 'private_key'
        ? slackText`reaches its maximum age of ${maxAgeDays} days within ${c.thresholdDays} day${c.thresholdDays === 1 ? '' : 's'}: plan a key rollover`
        : slackText`expires within ${c.thresholdDays} day${c.thresholdDays === 1 ? '' : 's'}: upload a renewed certificate`
      : c.to === 'expired'
        ? c.subject === 'private_key'
          ? slackText`is past its maximum age of ${maxAgeDays} days: rotate it (key rollover)`
          : 'has EXPIRED: UDAP registrations with it fail until a renewed certificate is uploaded'
        : 'is ok again';
  return slackText`• ${c.app} (${c.environment}) · ` + `${what} ${state}${when}`;
}

/**
 * Slack-compatible text (every app name, key id and certificate subject escaped) plus the
 * structured changes (data, not escaped); names, key ids and dates only. Bounded like the expiry
 * monitor's: the worst EXPIRY_TEXT_LINES in the text, and how many more.
 */
export function appCredentialChangePayload(
  changes: AppCredentialChange[],
  maxAgeDays = env().REGISTRAR_KEY_MAX_AGE_DAYS,
): { text: string; changeCount: number; appCredentialChanges: AppCredentialChange[] } {
  const sorted = [...changes].sort(bySeverity);
  const shown = sorted.slice(0, EXPIRY_TEXT_LINES).map((c) => describe(c, maxAgeDays));
  const more = sorted.length > shown.length ? slackText`\n…and ${sorted.length - shown.length} more (see Registrar).` : '';
  const title = slackText`Registrar: app keys and certificates changed state (${changes.length})`;
  return { text: `${title}\n${shown.join('\n')}${more}`, changeCount: changes.length, appCredentialChanges: sorted.slice(0, EXPIRY_PAYLOAD_CHANGES) };
}

/** A monitored state to store, with the stored one it replaces (null: none yet). */
type StateWrite = {
  subject_type: AppCredentialKind;
  subject_id: string;
  previous_state: MonitorState | null;
  previous_threshold: number | null;
  state: MonitorState;
  threshold_days: number | null;
  expires_at: string;
};

/**
 * The expiry monitor for what the vendor's apps hold rather than what the hospitals issued: each
 * active private key by its age (it is due at REGISTRAR_KEY_MAX_AGE_DAYS), each active UDAP client
 * certificate by its notAfter; same states and thresholds as the secrets. New states and their one
 * notification commit together; a first sighting that is ok is recorded silently. Without a
 * webhook target the other states are not stored, so they are reported once a webhook is on again.
 */
export async function runAppCredentialMonitor(opts: { now?: Date } = {}): Promise<{ checked: number; changes: AppCredentialChange[]; notificationId: string | null }> {
  const now = opts.now ?? new Date();
  const maxAgeDays = env().REGISTRAR_KEY_MAX_AGE_DAYS;
  const thresholds = expiryThresholds();
  const { rows } = await getDb().execute<Row>(sql`
    select 'private_key' as subject, k.id, a.name as app, k.environment, k.kid as label,
           k.created_at + make_interval(days => ${maxAgeDays}::int) as expires_at, s.state, s.threshold_days
      from app_keys k
      join apps a on a.id = k.app_id
      left join app_credential_states s on s.subject_type = 'private_key' and s.subject_id = k.id
     where k.state = 'active' and k.purpose <> 'udap'
    union all
    select 'certificate', c.id, a.name, c.environment, c.subject, c.not_after, s.state, s.threshold_days
      from app_certificates c
      join apps a on a.id = c.app_id
      left join app_credential_states s on s.subject_type = 'certificate' and s.subject_id = c.id
     where c.state = 'active'
     -- One order for every run: two at once then lock the state rows they store in the same order.
     order by subject, id`);
  const found: Array<{ change: AppCredentialChange; write: StateWrite }> = [];
  const silent: StateWrite[] = [];
  for (const row of rows) {
    const expiresAt = row.expires_at instanceof Date ? row.expires_at : new Date(row.expires_at);
    const computed = monitorStateOf('at', expiresAt, now, thresholds)!;
    if (computed.state === row.state && computed.thresholdDays === (row.threshold_days ?? null)) continue;
    const write: StateWrite = {
      subject_type: row.subject,
      subject_id: row.id,
      previous_state: row.state,
      previous_threshold: row.threshold_days ?? null,
      state: computed.state,
      threshold_days: computed.thresholdDays,
      expires_at: expiresAt.toISOString(),
    };
    if (row.state === null && computed.state === 'ok') silent.push(write);
    else found.push({ write, change: { subject: row.subject, id: row.id, app: row.app, environment: row.environment, label: row.label, from: row.state, to: computed.state, thresholdDays: computed.thresholdDays, expiresAt: expiresAt.toISOString() } });
  }
  if (silent.length) await storeMonitoredStates(getDb(), APP_CREDENTIAL_STATE_TABLE, silent, now);
  if (found.length === 0) return { checked: rows.length, changes: [], notificationId: null };
  const { id, saved } = await saveWithNotification(
    'app-credentials',
    now,
    async (tx) => {
      const stored = await storeMonitoredStates(tx, APP_CREDENTIAL_STATE_TABLE, found.map((f) => f.write), now);
      return found.filter((f) => stored.has(`${f.write.subject_type}:${f.write.subject_id}`)).map((f) => f.change);
    },
    (changes) => ({ key: changes.map((c) => [c.subject, c.id, c.to, c.thresholdDays]), payload: appCredentialChangePayload(changes, maxAgeDays) }),
  );
  return { checked: rows.length, changes: saved, notificationId: id };
}
