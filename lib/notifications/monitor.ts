import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { env } from '@/lib/env';
import { saveWithNotification } from './deliver';
import { slackText } from './slack-text';
import { EXPIRY_STATE_TABLE, storeMonitoredStates } from './state-store';

const DAY = 86_400_000;

export type MonitorState = 'ok' | 'expiring' | 'expired' | 'never' | 'unknown';
export type MonitoredKind = 'client_secret' | 'registration_access_token';

export function expiryThresholds(): number[] {
  return [...new Set(env().REGISTRAR_EXPIRY_THRESHOLDS_DAYS.split(',').map((s) => Number(s.trim())))].filter((n) => Number.isFinite(n) && n > 0).sort((a, b) => a - b);
}

/**
 * The monitored state of one credential: expired, expiring (with the tightest threshold crossed,
 * e.g. 30/7/1 days), ok, never (RFC 7591: client_secret_expires_at 0) or unknown (no expiry given).
 * Null when there is nothing to monitor (no secret; a registration access token without a known expiry).
 */
export function monitorStateOf(
  kind: 'never' | 'at' | 'unknown' | 'none',
  expiresAt: Date | null,
  now: Date,
  thresholds: readonly number[],
): { state: MonitorState; thresholdDays: number | null } | null {
  if (kind === 'none') return null;
  if (kind === 'never') return { state: 'never', thresholdDays: null };
  if (kind === 'unknown' || !expiresAt) return { state: 'unknown', thresholdDays: null };
  const left = expiresAt.getTime() - now.getTime();
  if (left <= 0) return { state: 'expired', thresholdDays: null };
  const crossed = thresholds.find((t) => left <= t * DAY);
  return crossed !== undefined ? { state: 'expiring', thresholdDays: crossed } : { state: 'ok', thresholdDays: null };
}

export type ExpiryChange = {
  registrationId: string;
  clientId: string;
  hospital: string;
  app: string;
  environment: string;
  credential: MonitoredKind;
  from: MonitorState | null;
  to: MonitorState;
  thresholdDays: number | null;
  expiresAt: string | null;
};

type Row = {
  id: string;
  client_id: string;
  environment: string;
  hospital: string;
  app: string;
  secret_expiry_kind: 'never' | 'at' | 'unknown' | 'none';
  secret_expires_at: Date | string | null;
  rat_expires_at: Date | string | null;
  secret_state: MonitorState | null;
  secret_threshold: number | null;
  rat_state: MonitorState | null;
  rat_threshold: number | null;
};

const asDate = (v: Date | string | null): Date | null => (v === null ? null : v instanceof Date ? v : new Date(v));

const KIND_LABEL: Record<MonitoredKind, string> = { client_secret: 'client secret', registration_access_token: 'registration access token' };

/** How many changes a message lists in `text`; the structured `changes` carry at most EXPIRY_PAYLOAD_CHANGES. */
export const EXPIRY_TEXT_LINES = 25;
export const EXPIRY_PAYLOAD_CHANGES = 200;

const SEVERITY: Record<MonitorState, number> = { expired: 0, expiring: 1, unknown: 2, ok: 3, never: 4 };
/** The worst first (expired, then the tightest threshold): a message that lists only some of the changes lists the ones to act on. */
export function bySeverity(a: { to: MonitorState; thresholdDays: number | null }, b: { to: MonitorState; thresholdDays: number | null }): number {
  return SEVERITY[a.to] - SEVERITY[b.to] || (a.thresholdDays ?? 0) - (b.thresholdDays ?? 0);
}

function describe(change: ExpiryChange): string {
  const when = change.expiresAt ? slackText` (${change.expiresAt.slice(0, 16).replace('T', ' ')} UTC)` : '';
  const state =
    change.to === 'expiring'
      ? slackText`expires within ${change.thresholdDays} day${change.thresholdDays === 1 ? '' : 's'}`
      : change.to === 'ok'
        ? 'is ok again (renewed)'
        : change.to === 'never'
          ? 'never expires'
          : change.to === 'unknown'
            ? 'has an unknown expiry (needs attention)'
            : 'has EXPIRED';
  return slackText`• ${change.hospital} · ${change.app} (${change.environment}) · client ${change.clientId}: ${KIND_LABEL[change.credential]} ` + state + when;
}

/**
 * Slack-compatible text (`text`, every name and client id escaped) plus the structured changes
 * (data, not escaped); names, client ids and dates only. Bounded whatever the number of changes:
 * the text lists the worst EXPIRY_TEXT_LINES and says how many more there are.
 */
export function expiryChangePayload(changes: ExpiryChange[]): { text: string; changeCount: number; changes: ExpiryChange[] } {
  const sorted = [...changes].sort(bySeverity);
  const shown = sorted.slice(0, EXPIRY_TEXT_LINES).map(describe);
  const more = sorted.length > shown.length ? slackText`\n…and ${sorted.length - shown.length} more (see Registrar).` : '';
  const title = slackText`Registrar: credential expiry changed for ${changes.length} credential(s)`;
  return { text: `${title}\n${shown.join('\n')}${more}`, changeCount: changes.length, changes: sorted.slice(0, EXPIRY_PAYLOAD_CHANGES) };
}

/** A monitored state to store, with the stored one it replaces (null: none yet). */
type StateWrite = {
  registration_id: string;
  credential_kind: MonitoredKind;
  previous_state: MonitorState | null;
  previous_threshold: number | null;
  state: MonitorState;
  threshold_days: number | null;
  expires_at: string | null;
};

/**
 * Computes the expiry state of every monitored credential (client secrets; registration access
 * tokens whose expiry is known) batch by batch, then stores the changes and queues one webhook
 * listing them, in one transaction, once per run. A first sighting that is ok or never is recorded
 * silently; everything else is notified. Without a webhook target nothing but those first
 * sightings is stored, so the changes are reported once a webhook is on again. `issuerId` limits
 * the run to one issuer's registrations. `changes`: those stored and notified by this run.
 */
export async function runExpiryMonitor(opts: { now?: Date; batchSize?: number; issuerId?: string } = {}): Promise<{ checked: number; changes: ExpiryChange[]; notificationId: string | null }> {
  const now = opts.now ?? new Date();
  const thresholds = expiryThresholds();
  const batchSize = opts.batchSize ?? 2000;
  const found: Array<{ change: ExpiryChange; write: StateWrite }> = [];
  let checked = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await getDb().execute<Row>(sql`
      select r.id, r.client_id, r.environment, hs.name as hospital, a.name as app,
             r.secret_expiry_kind, r.secret_expires_at,
             (select c.expires_at from credentials c
               where c.owner_type = 'registration' and c.owner_id = r.id and c.kind = 'registration_access_token' and c.state = 'current' limit 1) as rat_expires_at,
             s.state as secret_state, s.threshold_days as secret_threshold,
             t.state as rat_state, t.threshold_days as rat_threshold
        from registrations r
        join issuers i on i.id = r.issuer_id
        join health_systems hs on hs.id = i.health_system_id
        join apps a on a.id = r.app_id
        left join expiry_states s on s.registration_id = r.id and s.credential_kind = 'client_secret'
        left join expiry_states t on t.registration_id = r.id and t.credential_kind = 'registration_access_token'
       where r.id > ${after}::uuid and r.status <> 'deleted' and r.replaced_by_registration_id is null${opts.issuerId ? sql` and r.issuer_id = ${opts.issuerId}::uuid` : sql``}
       order by r.id
       limit ${batchSize}`);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    checked += rows.length;
    const silent: StateWrite[] = [];
    for (const row of rows) {
      const candidates: Array<[MonitoredKind, ReturnType<typeof monitorStateOf>, MonitorState | null, number | null, Date | null]> = [
        ['client_secret', monitorStateOf(row.secret_expiry_kind, asDate(row.secret_expires_at), now, thresholds), row.secret_state, row.secret_threshold, asDate(row.secret_expires_at)],
      ];
      const ratExpiry = asDate(row.rat_expires_at);
      if (ratExpiry) candidates.push(['registration_access_token', monitorStateOf('at', ratExpiry, now, thresholds), row.rat_state, row.rat_threshold, ratExpiry]);
      for (const [credential, computed, previous, previousThreshold, expiresAt] of candidates) {
        if (!computed) continue;
        if (computed.state === previous && computed.thresholdDays === (previousThreshold ?? null)) continue;
        const write: StateWrite = {
          registration_id: row.id,
          credential_kind: credential,
          previous_state: previous,
          previous_threshold: previousThreshold ?? null,
          state: computed.state,
          threshold_days: computed.thresholdDays,
          expires_at: expiresAt?.toISOString() ?? null,
        };
        if (previous === null && (computed.state === 'ok' || computed.state === 'never')) {
          silent.push(write);
          continue;
        }
        // Held until the run has seen every batch: one run, one notification.
        found.push({
          write,
          change: {
            registrationId: row.id,
            clientId: row.client_id,
            hospital: row.hospital,
            app: row.app,
            environment: row.environment,
            credential,
            from: previous,
            to: computed.state,
            thresholdDays: computed.thresholdDays,
            expiresAt: expiresAt?.toISOString() ?? null,
          },
        });
      }
    }
    // Nothing to tell about these, so nothing to keep consistent with a notification.
    if (silent.length) await storeMonitoredStates(getDb(), EXPIRY_STATE_TABLE, silent, now, batchSize);
    if (rows.length < batchSize) break;
  }
  if (found.length === 0) return { checked, changes: [], notificationId: null };
  const { id, saved } = await saveWithNotification(
    'expiry',
    now,
    async (tx) => {
      const stored = await storeMonitoredStates(tx, EXPIRY_STATE_TABLE, found.map((f) => f.write), now, batchSize);
      return found.filter((f) => stored.has(`${f.write.registration_id}:${f.write.credential_kind}`)).map((f) => f.change);
    },
    (changes) => ({ key: changes.map((c) => [c.registrationId, c.credential, c.to, c.thresholdDays]), payload: expiryChangePayload(changes) }),
  );
  return { checked, changes: saved, notificationId: id };
}
