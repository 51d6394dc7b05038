import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { env } from '@/lib/env';
import { saveWithNotification } from './deliver';
import { expiryThresholds, monitorStateOf, type MonitorState } from './monitor';

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
  const what = c.subject === 'private_key' ? `private key ${c.label}` : `UDAP client certificate "${c.label}"`;
  const when = ` (${c.expiresAt.slice(0, 16).replace('T', ' ')} UTC)`;
  const state =
    c.to === 'expiring'
      ? c.subject === 'private_key'
        ? `reaches its maximum age of ${maxAgeDays} days within ${c.thresholdDays} day${c.thresholdDays === 1 ? '' : 's'}: plan a key rollover`
        : `expires within ${c.thresholdDays} day${c.thresholdDays === 1 ? '' : 's'}: upload a renewed certificate`
      : c.to === 'expired'
        ? c.subject === 'private_key'
          ? `is past its maximum age of ${maxAgeDays} days: rotate it (key rollover)`
          : 'has EXPIRED: UDAP registrations with it fail until a renewed certificate is uploaded'
        : 'is ok again';
  return `• ${c.app} (${c.environment}) · ${what} ${state}${when}`;
}

/** Slack-compatible text plus the structured changes; names, key ids and dates only. */
export function appCredentialChangePayload(changes: AppCredentialChange[], maxAgeDays = env().REGISTRAR_KEY_MAX_AGE_DAYS): { text: string; appCredentialChanges: AppCredentialChange[] } {
  const shown = changes.slice(0, 25).map((c) => describe(c, maxAgeDays));
  const more = changes.length > shown.length ? `\n…and ${changes.length - shown.length} more (see Registrar).` : '';
  return { text: `Registrar: app keys and certificates changed state (${changes.length})\n${shown.join('\n')}${more}`, appCredentialChanges: changes.slice(0, 200) };
}

/**
 * The expiry monitor for what the vendor's apps hold rather than what the hospitals issued: each
 * active private key by its age (it is due at REGISTRAR_KEY_MAX_AGE_DAYS), each active UDAP client
 * certificate by its notAfter; same states and thresholds as the secrets. New states and their
 * notification commit together; a first sighting that is ok is recorded silently.
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
     where c.state = 'active'`);
  const changes: AppCredentialChange[] = [];
  const upserts: Array<{ subject_type: AppCredentialKind; subject_id: string; state: MonitorState; threshold_days: number | null; expires_at: string }> = [];
  for (const row of rows) {
    const expiresAt = row.expires_at instanceof Date ? row.expires_at : new Date(row.expires_at);
    const computed = monitorStateOf('at', expiresAt, now, thresholds)!;
    if (computed.state === row.state && computed.thresholdDays === (row.threshold_days ?? null)) continue;
    upserts.push({ subject_type: row.subject, subject_id: row.id, state: computed.state, threshold_days: computed.thresholdDays, expires_at: expiresAt.toISOString() });
    if (row.state === null && computed.state === 'ok') continue;
    changes.push({ subject: row.subject, id: row.id, app: row.app, environment: row.environment, label: row.label, from: row.state, to: computed.state, thresholdDays: computed.thresholdDays, expiresAt: expiresAt.toISOString() });
  }
  const notificationId = upserts.length
    ? await saveWithNotification(
        (tx) =>
          tx.execute(sql`
          insert into app_credential_states (subject_type, subject_id, state, threshold_days, expires_at, changed_at)
          select v.subject_type, v.subject_id, v.state, v.threshold_days, v.expires_at, ${now.toISOString()}::timestamptz
            from jsonb_to_recordset(${JSON.stringify(upserts)}::jsonb) as v(subject_type text, subject_id uuid, state text, threshold_days int, expires_at timestamptz)
          on conflict (subject_type, subject_id) do update
            set state = excluded.state, threshold_days = excluded.threshold_days, expires_at = excluded.expires_at, changed_at = excluded.changed_at`),
        { scope: 'app-credentials', now, changes: changes.map((c) => [c.subject, c.id, c.to, c.thresholdDays]), payload: appCredentialChangePayload(changes, maxAgeDays) },
      )
    : null;
  return { checked: rows.length, changes, notificationId };
}
