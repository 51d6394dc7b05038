import 'server-only';
import { env } from '@/lib/env';
import { parseAllowlist } from '@/lib/oauth/allowlist';
import type { OutboundPolicy } from '@/lib/oauth/safe-fetch';
import { allowlistRulesFrom, loadAllowlistRules } from './allowlist-store';

/** The outbound policy in force: REGISTRAR_OUTBOUND_ALLOWLIST merged with the admin-managed list. */
export async function currentOutboundPolicy(): Promise<OutboundPolicy> {
  return { allowlist: [...parseAllowlist(env().REGISTRAR_OUTBOUND_ALLOWLIST), ...(await loadAllowlistRules())] };
}

/** The same policy from stored entries read by the caller (allowlistEntriesColumn) in its own query. */
export function outboundPolicyFrom(storedEntries: readonly string[]): OutboundPolicy {
  return { allowlist: [...parseAllowlist(env().REGISTRAR_OUTBOUND_ALLOWLIST), ...allowlistRulesFrom(storedEntries)] };
}
