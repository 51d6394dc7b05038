// Pure module (browser-safe): compares requested, granted and supported scopes on atoms.
import { compareStrings, parseScopeString, type ParsedScope } from './scopes';

/** One expanded permission. Resource atoms keep their parts so coverage can be decided. */
type Atom = {
  key: string;
  resource: { context: string; type: string; interaction: string; query: string | null } | null;
};

function toAtoms(scopes: readonly ParsedScope[]): Atom[] {
  const byKey = new Map<string, Atom>();
  for (const s of scopes) {
    if (s.kind === 'resource') {
      for (const interaction of s.interactions) {
        const key = `${s.context}/${s.resource}.${interaction}${s.query ?? ''}`;
        byKey.set(key, { key, resource: { context: s.context, type: s.resource, interaction, query: s.query } });
      }
    } else {
      byKey.set(s.raw, { key: s.raw, resource: null });
    }
  }
  return [...byKey.values()];
}

/**
 * Whether `have` grants at least what `want` asks for. Exact atoms match; in addition a wildcard
 * resource covers every type (SMART 2.2 "Wildcard scopes") and an unconstrained atom covers the
 * same atom with a `?query` constraint (the constraint only narrows access).
 */
function covers(have: Atom, want: Atom): boolean {
  if (have.key === want.key) return true;
  const h = have.resource;
  const w = want.resource;
  if (h === null || w === null) return false;
  return (
    h.context === w.context &&
    h.interaction === w.interaction &&
    (h.type === '*' || h.type === w.type) &&
    (h.query === null || h.query === w.query)
  );
}

function uncovered(wanted: readonly Atom[], have: readonly Atom[]): string[] {
  return wanted
    .filter((w) => !have.some((h) => covers(h, w)))
    .map((a) => a.key)
    .sort(compareStrings);
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

export type ScopeDiff = {
  /** true when nothing was lost and nothing was gained */
  equivalent: boolean;
  /** atoms requested but not granted */
  lost: string[];
  /** atoms granted but not requested */
  gained: string[];
  /** raw strings that are not SMART grammar, from either side, in order of appearance */
  unrecognized: string[];
  /** requested raw scopes not covered by `supported` (only when `supported` is given) */
  unsupported: string[];
};

/**
 * Compares a requested scope string with the granted one (RFC 7591 §3.2.1: the server may
 * substitute `scope`) on SMART atoms, so `patient/Observation.read` equals `patient/Observation.rs`.
 *
 * Coverage rule (documented decision): atoms are compared exactly, except that a granted wildcard
 * (`patient/*.r`) or unconstrained atom (`patient/Observation.r`) satisfies a requested specific or
 * query-constrained one, so such a request is not reported as lost. The broader grant is reported
 * as gained. Unrecognized strings are their own atoms and compare byte for byte.
 */
export function diffScopes(input: { requested: string; granted: string; supported?: readonly string[] }): ScopeDiff {
  const requested = parseScopeString(input.requested);
  const granted = parseScopeString(input.granted);
  const requestedAtoms = toAtoms(requested);
  const grantedAtoms = toAtoms(granted);

  const lost = uncovered(requestedAtoms, grantedAtoms);
  const gained = uncovered(grantedAtoms, requestedAtoms);
  const unrecognized = unique([...requested, ...granted].filter((s) => s.kind === 'unrecognized').map((s) => s.raw));

  const unsupported = input.supported === undefined ? [] : [...unsupportedScopes(requested, input.supported)];

  return { equivalent: lost.length === 0 && gained.length === 0, lost, gained, unrecognized, unsupported };
}

/**
 * The atoms of the few `scopes_supported` lists a process meets (one per issuer), kept: parsing a
 * SMART server's list (150 scopes) costs about 0.2 ms, on every registration request it checked.
 */
const supportedAtomsCache = new Map<string, Atom[]>();

function supportedAtomsOf(supported: readonly string[]): Atom[] {
  const key = supported.join(' ');
  let atoms = supportedAtomsCache.get(key);
  if (!atoms) {
    atoms = toAtoms(supported.flatMap((s) => parseScopeString(s)));
    if (supportedAtomsCache.size >= 32) supportedAtomsCache.delete(supportedAtomsCache.keys().next().value!);
    supportedAtomsCache.set(key, atoms);
  }
  return atoms;
}

/** Raw scopes of `scopes` whose atoms are not all covered by `supported` (see diffScopes). */
export function unsupportedScopes(scopes: readonly ParsedScope[], supported: readonly string[]): Set<string> {
  const exact = new Set(supported);
  // A scope listed as it is needs no expansion (the common case).
  const toCheck = scopes.filter((s) => !exact.has(s.raw));
  if (toCheck.length === 0) return new Set();
  const supportedAtoms = supportedAtomsOf(supported);
  return new Set(toCheck.filter((s) => uncovered(toAtoms([s]), supportedAtoms).length > 0).map((s) => s.raw));
}

/** The atom keys of one scope, for equivalence checks. */
export function atomKeys(scope: ParsedScope): string[] {
  return toAtoms([scope])
    .map((a) => a.key)
    .sort(compareStrings);
}
