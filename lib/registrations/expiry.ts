export type ExpiryState = 'ok' | 'expiring' | 'expired' | 'never' | 'unknown' | 'none';
import { expiryThresholds } from '@/lib/notifications/monitor';

/** `daysLeft`: whole days until the expiry, negative once it is past (-1: a day or more ago). */
export type Expiry = { state: ExpiryState; at: string | null; daysLeft: number | null };

const DAY = 86_400_000;

/**
 * RFC 7591: client_secret_expires_at 0 means never; a secret without it is unknown, never "never".
 * `none` is a client without a secret (public, private_key_jwt, Epic). A secret is expiring within
 * the widest of the monitor's thresholds (REGISTRAR_EXPIRY_THRESHOLDS_DAYS, 30/7/1 by default), with
 * the monitor's boundary, so the table, the export and the webhooks agree on what "expiring" means.
 */
export function expiryOf(kind: 'never' | 'at' | 'unknown' | 'none', at: Date | null, now: Date, expiringWithinDays = expiringWindowDays()): Expiry {
  if (kind === 'never') return { state: 'never', at: null, daysLeft: null };
  if (kind === 'none') return { state: 'none', at: null, daysLeft: null };
  if (kind === 'unknown' || !at) return { state: 'unknown', at: null, daysLeft: null };
  const left = at.getTime() - now.getTime();
  // Whole days, toward zero both ways: 2 hours left is 0 d, and so is 2 hours ago (not "1 d ago").
  const daysLeft = Math.trunc(left / DAY) || 0;
  const state = left <= 0 ? 'expired' : left <= expiringWithinDays * DAY ? 'expiring' : 'ok';
  return { state, at: at.toISOString(), daysLeft };
}

/** The widest expiry threshold configured (days). */
export function expiringWindowDays(): number {
  return Math.max(...expiryThresholds(), 0);
}
