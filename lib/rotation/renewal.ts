import 'server-only';
import type { RenewalPolicy } from './settings';

const DAY = 86_400_000;

export type RenewalInput = {
  /** The registration's secret expiry kind (RFC 7591: 0 → never; missing → unknown; no secret → none). */
  kind: 'never' | 'at' | 'unknown' | 'none';
  expiresAt: Date | null;
  /** When the current credential was issued (last rotation, else client_id_issued_at, else creation). */
  issuedAt: Date;
};

export type Renewal = {
  renewAt: Date | null;
  /** What decided the time, for the page and the digest. */
  basis: 'lead_time' | 'lifetime_fraction' | 'max_age' | 'never' | 'unknown' | 'none';
  /** An unknown expiry cannot be planned for: a person must find out. */
  needsAttention: boolean;
};

/**
 * When to renew a credential: `renewBeforeDays` before it expires or once `lifetimeFraction` of its
 * lifetime has passed, whichever is earlier (defaults 30 days and two thirds); for a lifetime
 * shorter than the lead time, at the fraction. A credential that
 * never expires (or a key) is renewed only under a max-age policy; an unknown expiry (a secret
 * without client_secret_expires_at, RFC 7591 §3.2.1) needs a person.
 */
export function computeRenewal(input: RenewalInput, policy: RenewalPolicy): Renewal {
  const maxAge = policy.maxAgeDays !== null ? new Date(input.issuedAt.getTime() + policy.maxAgeDays * DAY) : null;
  if (input.kind === 'unknown' || (input.kind === 'at' && !input.expiresAt)) {
    return { renewAt: maxAge, basis: 'unknown', needsAttention: true };
  }
  if (input.kind === 'never' || input.kind === 'none') {
    return maxAge ? { renewAt: maxAge, basis: 'max_age', needsAttention: false } : { renewAt: null, basis: input.kind, needsAttention: false };
  }
  const expires = input.expiresAt!.getTime();
  const issued = Math.min(input.issuedAt.getTime(), expires);
  const byLead = expires - policy.renewBeforeDays * DAY;
  const byFraction = issued + (expires - issued) * policy.lifetimeFraction;
  // A lifetime shorter than the lead time would mean "renew at once, forever": the fraction decides then.
  const leadApplies = byLead > issued;
  let renewAt = leadApplies && byLead < byFraction ? byLead : byFraction;
  let basis: Renewal['basis'] = leadApplies && byLead < byFraction ? 'lead_time' : 'lifetime_fraction';
  if (maxAge && maxAge.getTime() < renewAt) {
    renewAt = maxAge.getTime();
    basis = 'max_age';
  }
  return { renewAt: new Date(renewAt), basis, needsAttention: false };
}
