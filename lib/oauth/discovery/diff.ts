import 'server-only';

import { type DiscoveryDiffEntry, type DiscoveryResult, ENDPOINT_NAMES, type EndpointName } from './types';

const LIST_FIELDS = [
  'scopesSupported',
  'grantTypesSupported',
  'responseTypesSupported',
  'tokenEndpointAuthMethodsSupported',
  'tokenEndpointAuthSigningAlgValuesSupported',
  'codeChallengeMethodsSupported',
  'capabilities',
] as const;

/** Endpoints whose change can break existing registrations or send credentials somewhere new. */
const ATTENTION_ENDPOINTS: ReadonlySet<EndpointName> = new Set(['token', 'registration']);

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((v) => right.has(v));
}

function sorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/**
 * What changed between two discoveries of the same server. Lists compare as sets (order is not a
 * change). `attention` is true when the token or registration endpoint, or the issuer, changed.
 * With no previous discovery, every field that has a value is reported as new, without attention.
 */
export function diffDiscoveries(previous: DiscoveryResult | null, next: DiscoveryResult): DiscoveryDiffEntry[] {
  const out: DiscoveryDiffEntry[] = [];
  const first = previous === null;

  const scalar = (field: string, before: unknown, after: unknown, attention: boolean) => {
    if (Object.is(before, after)) return;
    out.push({ field, before, after, attention: !first && attention });
  };

  scalar('issuer', previous?.issuer ?? null, next.issuer, true);
  scalar('fhirBaseUrl', previous?.fhirBaseUrl ?? null, next.fhirBaseUrl, false);
  for (const name of ENDPOINT_NAMES) {
    scalar(`endpoints.${name}`, previous?.endpoints?.[name]?.value ?? null, next.endpoints[name]?.value ?? null, ATTENTION_ENDPOINTS.has(name));
  }
  for (const field of LIST_FIELDS) {
    // Stored results may predate a field: missing lists count as empty.
    const before = previous?.[field] ?? [];
    const after = next[field];
    if (sameSet(before, after)) continue;
    out.push({ field, before: sorted(before), after: sorted(after), attention: false });
  }
  scalar('udap.signatureVerified', previous?.udap?.signatureVerified ?? null, next.udap?.signatureVerified ?? null, false);
  scalar('failure', previous?.failure?.code ?? null, next.failure?.code ?? null, false);
  return out;
}
