import 'server-only';
import { env } from '@/lib/env';
import { parseAllowlist } from '@/lib/oauth/allowlist';
import type { OutboundPolicy } from '@/lib/oauth/safe-fetch';
import { allowlistRulesFrom, loadAllowlistRules } from './allowlist-store';

/** The outbound policy in force: REGISTRAR_OUTBOUND_ALLOWLIST merged with the admin-managed list. */
export async function currentOutboundPolicy(): Promise<OutboundPolicy> {
  return { allowlist: [...parseAllowlist(env().REGISTRAR_OUTBOUND_ALLOWLIST), ...(await loadAllowlistRules())] };
}

/** The last policy outboundPolicyFrom built, by what it was built from (entries hold no newline). */
let lastBuilt: { from: string; policy: OutboundPolicy } | null = null;

/**
 * The same policy from stored entries read by the caller (allowlistEntriesColumn) in its own query.
 * Every registration builds it from the same few entries, so the last one is kept (frozen: shared).
 */
export function outboundPolicyFrom(storedEntries: readonly string[]): OutboundPolicy {
  const from = `${env().REGISTRAR_OUTBOUND_ALLOWLIST}\n${storedEntries.join('\n')}`;
  if (lastBuilt?.from === from) return lastBuilt.policy;
  const allowlist = [...parseAllowlist(env().REGISTRAR_OUTBOUND_ALLOWLIST), ...allowlistRulesFrom(storedEntries)].map((rule) => Object.freeze(rule));
  const policy = Object.freeze({ allowlist: Object.freeze(allowlist) }) as OutboundPolicy;
  lastBuilt = { from, policy };
  return policy;
}
