export type ExpiryState = 'ok' | 'expiring' | 'expired' | 'never' | 'unknown' | 'none';
export type Expiry = { state: ExpiryState; at: string | null; daysLeft: number | null };

const DAY = 86_400_000;
/** Days before expiry at which a secret counts as expiring (the first threshold of 30/7/1). */
export const EXPIRING_WITHIN_DAYS = 30;

/**
 * RFC 7591: client_secret_expires_at 0 means never; a secret without it is unknown, never "never".
 * `none` is a client without a secret (public, private_key_jwt, Epic).
 */
export function expiryOf(kind: 'never' | 'at' | 'unknown' | 'none', at: Date | null, now: Date): Expiry {
  if (kind === 'never') return { state: 'never', at: null, daysLeft: null };
  if (kind === 'none') return { state: 'none', at: null, daysLeft: null };
  if (kind === 'unknown' || !at) return { state: 'unknown', at: null, daysLeft: null };
  const daysLeft = Math.floor((at.getTime() - now.getTime()) / DAY);
  const state = at.getTime() <= now.getTime() ? 'expired' : daysLeft < EXPIRING_WITHIN_DAYS ? 'expiring' : 'ok';
  return { state, at: at.toISOString(), daysLeft };
}
