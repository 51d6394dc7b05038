import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { env } from '@/lib/env';
import { dueForRenewal } from '@/lib/rotation/scan';
import { enqueueNotification } from './deliver';
import { expiryThresholds } from './monitor';
import { slackText } from './slack-text';

export type DailyDigest = {
  text: string;
  date: string;
  counts: { expired: number; unknown: number; never: number; expiringWithin: Record<string, number>; manualDue: number; rotationsFailed24h: number; rotationsWaiting: number; rotationsActive: number; appCredentials: { expiring: number; expired: number } };
};

/** The day's summary: expired, expiring per threshold, unknown expiry, renewals due under the manual policy, rotations needing a person. */
/** A running rotation that goes on only when a person acts: a waiting state, or stalled after its step was interrupted too often. */
const WAITS_FOR_PERSON = sql`(state in ('waiting_for_initial_access_token', 'waiting_for_verification') or stalled_at is not null)`;

export async function buildDailyDigest(now = new Date()): Promise<DailyDigest> {
  const thresholds = expiryThresholds();
  const iso = now.toISOString();
  const expiring = thresholds.map((t) => sql`count(*) filter (where secret_expiry_kind = 'at' and secret_expires_at > ${iso}::timestamptz and secret_expires_at <= ${iso}::timestamptz + make_interval(days => ${t}))::int as ${sql.identifier(`d${t}`)}`);
  const { rows } = await getDb().execute<Record<string, number>>(sql`
    select count(*) filter (where secret_expiry_kind = 'at' and secret_expires_at <= ${iso}::timestamptz)::int as expired,
           count(*) filter (where secret_expiry_kind = 'unknown')::int as unknown,
           count(*) filter (where secret_expiry_kind = 'never')::int as never,
           ${sql.join(expiring, sql`, `)}
      from registrations
     where status <> 'deleted' and replaced_by_registration_id is null`);
  const r = rows[0] ?? {};
  const { rows: rot } = await getDb().execute<{ failed: number; waiting: number; active: number }>(sql`
    select count(*) filter (where state = 'failed' and finished_at > ${iso}::timestamptz - interval '1 day')::int as failed,
           count(*) filter (where state not in ('current', 'failed') and ${WAITS_FOR_PERSON})::int as waiting,
           count(*) filter (where state not in ('current', 'failed') and not ${WAITS_FOR_PERSON})::int as active
      from rotations`);
  const manualDue = (await dueForRenewal(now, 'manual', 100_000)).length;
  // App keys past or near their maximum age, UDAP certificates near or past notAfter, as of now:
  // not the monitor's stored states, which stay at the last notified ones while no webhook is on.
  const maxAgeDays = env().REGISTRAR_KEY_MAX_AGE_DAYS;
  const horizonDays = thresholds.at(-1) ?? 0;
  const { rows: app } = await getDb().execute<{ expiring: number; expired: number }>(sql`
    select count(*) filter (where expires_at > ${iso}::timestamptz and expires_at <= ${iso}::timestamptz + make_interval(days => ${horizonDays}::int))::int as expiring,
           count(*) filter (where expires_at <= ${iso}::timestamptz)::int as expired
      from (select k.created_at + make_interval(days => ${maxAgeDays}::int) as expires_at from app_keys k where k.state = 'active' and k.purpose <> 'udap'
            union all
            select c.not_after from app_certificates c where c.state = 'active') as held`);
  const expiringWithin = Object.fromEntries(thresholds.map((t) => [String(t), Number(r[`d${t}`] ?? 0)]));
  const counts = {
    expired: Number(r.expired ?? 0),
    unknown: Number(r.unknown ?? 0),
    never: Number(r.never ?? 0),
    expiringWithin,
    manualDue,
    rotationsFailed24h: Number(rot[0]?.failed ?? 0),
    rotationsWaiting: Number(rot[0]?.waiting ?? 0),
    rotationsActive: Number(rot[0]?.active ?? 0),
    appCredentials: { expiring: Number(app[0]?.expiring ?? 0), expired: Number(app[0]?.expired ?? 0) },
  };
  const date = iso.slice(0, 10);
  const lines = [
    slackText`Registrar daily digest for ${date}`,
    slackText`• Expired client secrets: ${counts.expired}`,
    ...thresholds.map((t) => slackText`• Expiring within ${t} day${t === 1 ? '' : 's'}: ${expiringWithin[String(t)]}`),
    slackText`• Unknown expiry (needs attention): ${counts.unknown}`,
    slackText`• Due for renewal, manual policy (rotate them): ${counts.manualDue}`,
    slackText`• Rotations failed in the last 24 h: ${counts.rotationsFailed24h}; waiting for a person: ${counts.rotationsWaiting}; in progress: ${counts.rotationsActive}`,
    slackText`• App keys and UDAP certificates: ${counts.appCredentials.expiring} expiring, ${counts.appCredentials.expired} expired or past their maximum age`,
  ];
  return { text: lines.join('\n'), date, counts };
}

/** Queues the digest once per day (event key `digest:YYYY-MM-DD`), whichever instance runs it first. */
export async function enqueueDailyDigest(now = new Date()): Promise<string | null> {
  const digest = await buildDailyDigest(now);
  return enqueueNotification('digest', `digest:${digest.date}`, { text: digest.text, date: digest.date, counts: digest.counts });
}
