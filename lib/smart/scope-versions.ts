// Pure module (browser-safe): which SMART scope syntax (v1 or v2) a server says it accepts, and the
// requested scopes written in the other one.
import { formatScope, parseScopeString, type ResourceScope, type ScopeVersion } from './scopes';

/** What the server's capabilities say about scope syntax; null when they name neither version. */
export type AdvertisedScopeVersions = { v1: boolean; v2: boolean } | null;

/**
 * SMART App Launch 2.2 capabilities `permission-v1` / `permission-v2`: the scope syntax a server
 * supports. A server that advertises neither (SMART 1 servers, incomplete documents) is unknown,
 * not "v1 only".
 */
export function advertisedScopeVersions(capabilities: readonly string[]): AdvertisedScopeVersions {
  const v1 = capabilities.includes('permission-v1');
  const v2 = capabilities.includes('permission-v2');
  return v1 || v2 ? { v1, v2 } : null;
}

export type ScopeVersionMismatch = {
  /** the requested scope as written */
  scope: string;
  /** the syntax it is written in, which the server does not advertise */
  version: ScopeVersion;
  /** the same scope in the advertised syntax, or the nearest one that covers it */
  equivalent: string;
  /** false when the other syntax cannot say exactly this (v1 has no `.r` alone and no `?query`) */
  exact: boolean;
};

/** v1 spells only `.read` (rs), `.write` (cud) and `.*` (cruds), without a query: the smallest that covers. */
function nearestV1(s: ResourceScope): string {
  const within = (letters: string) => s.interactions.every((i) => letters.includes(i));
  const v1 = within('rs') ? 'read' : within('cud') ? 'write' : '*';
  return `${s.context}/${s.resource}.${v1}`;
}

/**
 * The requested resource scopes written in a SMART syntax the server does not advertise
 * (capabilities `permission-v1` / `permission-v2`), each with its spelling in the other syntax;
 * null when the server advertises neither, so nothing can be said. Non-resource scopes (openid,
 * launch/patient, ...) are the same in both versions.
 */
export function scopesInUnadvertisedVersion(requested: string, capabilities: readonly string[]): ScopeVersionMismatch[] | null {
  const advertised = advertisedScopeVersions(capabilities);
  if (advertised === null) return null;
  const out: ScopeVersionMismatch[] = [];
  const seen = new Set<string>();
  for (const s of parseScopeString(requested)) {
    if (s.kind !== 'resource' || advertised[s.version] || seen.has(s.raw)) continue;
    seen.add(s.raw);
    const other: ScopeVersion = s.version === 'v1' ? 'v2' : 'v1';
    const exact = formatScope({ ...s, version: other });
    out.push({ scope: s.raw, version: s.version, equivalent: exact ?? nearestV1(s), exact: exact !== null });
  }
  return out;
}
