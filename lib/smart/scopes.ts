// Pure module: the onboarding form imports it in the browser for live validation, so no
// `server-only`, no DB, no network.
//
// Grammar (SMART App Launch 2.2, "Scopes for requesting clinical data"):
//   ( patient | user | system ) "/" ( ResourceType | "*" ) "." <in-order subset of "cruds">
//   [ "?" param=value *( "&" param=value ) ]
// v1 suffixes `.read` / `.write` / `.*` mean `.rs` / `.cud` / `.cruds`.
//
// Decisions (documented in README.md beside this file):
// - Out-of-order interactions (`.sr`) are NOT interpreted: SMART 2.2 says such requests "MAY be
//   ignored, replaced with server default scopes, or rejected" precisely to prevent
//   misinterpretation. They parse as `unrecognized` and the validator reports
//   INTERACTIONS_OUT_OF_ORDER as an error naming the in-order form.
// - A query suffix on a v1 scope (`.read?category=...`) is not grammar (queries are v2 only).
// - Case variants (`patient/Immunization.Read`, `OpenID`) are `unrecognized` with `caseVariantOf`:
//   servers compare scopes case-sensitively, so we never silently fold case.

export type ScopeContext = 'patient' | 'user' | 'system';
export type ScopeInteraction = 'c' | 'r' | 'u' | 'd' | 's';
export type ScopeVersion = 'v1' | 'v2';

export type ParsedScope =
  | {
      kind: 'resource';
      raw: string;
      context: ScopeContext;
      /** FHIR resource type, or '*' */
      resource: string;
      /** Always in canonical c r u d s order, no repeats. */
      interactions: ScopeInteraction[];
      version: ScopeVersion;
      /** '?category=...' exactly as given, or null */
      query: string | null;
    }
  | { kind: 'launch'; raw: string; /** launch, launch/patient, launch/encounter, launch/<lowercase type> */ value: string }
  | { kind: 'identity'; raw: string }
  | { kind: 'access'; raw: string }
  | { kind: 'extension'; raw: string }
  | { kind: 'unrecognized'; raw: string; reason: string; caseVariantOf?: string };

export type UnrecognizedScope = Extract<ParsedScope, { kind: 'unrecognized' }>;
export type ResourceScope = Extract<ParsedScope, { kind: 'resource' }>;

export const SCOPE_CONTEXTS: readonly ScopeContext[] = ['patient', 'user', 'system'];
export const SCOPE_INTERACTIONS: readonly ScopeInteraction[] = ['c', 'r', 'u', 'd', 's'];

const LAUNCH_SCOPES = ['launch', 'launch/patient', 'launch/encounter'] as const;
const IDENTITY_SCOPES = ['openid', 'fhirUser', 'profile'] as const;
const ACCESS_SCOPES = ['offline_access', 'online_access'] as const;

/** SMART App Launch 2.2: the scopes that are not resource scopes. */
export const SMART_NON_RESOURCE_SCOPES: readonly string[] = [...LAUNCH_SCOPES, ...IDENTITY_SCOPES, ...ACCESS_SCOPES];

/** Common FHIR R4 resource types, for the scope picker. */
export const COMMON_FHIR_RESOURCES: readonly string[] = [
  'AllergyIntolerance',
  'Appointment',
  'Binary',
  'CarePlan',
  'CareTeam',
  'Claim',
  'Communication',
  'Composition',
  'Condition',
  'Consent',
  'Coverage',
  'Device',
  'DiagnosticReport',
  'DocumentReference',
  'Encounter',
  'EpisodeOfCare',
  'ExplanationOfBenefit',
  'FamilyMemberHistory',
  'Flag',
  'Goal',
  'ImagingStudy',
  'Immunization',
  'List',
  'Location',
  'Medication',
  'MedicationAdministration',
  'MedicationDispense',
  'MedicationRequest',
  'MedicationStatement',
  'NutritionOrder',
  'Observation',
  'Organization',
  'Patient',
  'Person',
  'Practitioner',
  'PractitionerRole',
  'Procedure',
  'Provenance',
  'Questionnaire',
  'QuestionnaireResponse',
  'RelatedPerson',
  'Schedule',
  'ServiceRequest',
  'Slot',
  'Specimen',
  'Task',
];

const V1_INTERACTIONS: Record<'read' | 'write' | '*', ScopeInteraction[]> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ['c', 'r', 'u', 'd', 's'],
};

const CASE_FOLD: ReadonlyMap<string, string> = new Map(SMART_NON_RESOURCE_SCOPES.map((s) => [s.toLowerCase(), s]));
const RESOURCE_CASE_FOLD: ReadonlyMap<string, string> = new Map(COMMON_FHIR_RESOURCES.map((r) => [r.toLowerCase(), r]));

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
function firstInvalidScopeChar(raw: string): string | null {
  for (const ch of raw) {
    const code = ch.codePointAt(0) ?? 0;
    const ok = code === 0x21 || (code >= 0x23 && code <= 0x5b) || (code >= 0x5d && code <= 0x7e);
    if (!ok) return ch;
  }
  return null;
}

function describeChar(ch: string): string {
  if (/\s/.test(ch)) return 'whitespace';
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${ch}'`;
}

function unrecognized(raw: string, reason: string, caseVariantOf?: string): UnrecognizedScope {
  return caseVariantOf === undefined ? { kind: 'unrecognized', raw, reason } : { kind: 'unrecognized', raw, reason, caseVariantOf };
}

function isExtension(raw: string): boolean {
  // SMART 2.2 "Extensibility": a full URI you control, or anything starting with "__".
  return raw.startsWith('__') || /^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S+$/.test(raw) || /^urn:[A-Za-z0-9][A-Za-z0-9-]*:\S+$/i.test(raw);
}

/** Canonical-order interactions for an in-order, repeat-free letter string; null otherwise. */
function lettersInOrder(letters: string): ScopeInteraction[] | null {
  let last = -1;
  const out: ScopeInteraction[] = [];
  for (const ch of letters) {
    const idx = SCOPE_INTERACTIONS.indexOf(ch as ScopeInteraction);
    if (idx <= last) return null;
    last = idx;
    out.push(ch as ScopeInteraction);
  }
  return out.length > 0 ? out : null;
}

/** For letters that are a permutation of a cruds subset (no repeats), the in-order string. */
export function inOrderInteractions(letters: string): string | null {
  if (letters.length === 0 || !/^[cruds]+$/.test(letters)) return null;
  if (new Set(letters).size !== letters.length) return null;
  return SCOPE_INTERACTIONS.filter((i) => letters.includes(i)).join('');
}

function queryProblem(query: string): string | null {
  if (query === '?') return 'the query after "?" is empty';
  for (const part of query.slice(1).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `query item '${part}' is not param=value`;
  }
  return null;
}

/** Parses one scope token by SMART App Launch 2.2 grammar; anything else is kept raw. */
export function parseScope(raw: string): ParsedScope {
  if (raw.length === 0) return unrecognized(raw, 'empty scope');
  const bad = firstInvalidScopeChar(raw);
  if (bad !== null) return unrecognized(raw, `contains ${describeChar(bad)}, which is not allowed in an OAuth scope token`);

  if ((LAUNCH_SCOPES as readonly string[]).includes(raw)) return { kind: 'launch', raw, value: raw };
  if ((IDENTITY_SCOPES as readonly string[]).includes(raw)) return { kind: 'identity', raw };
  if ((ACCESS_SCOPES as readonly string[]).includes(raw)) return { kind: 'access', raw };
  // SMART 2.2: other launch contexts are `launch/<resource type in all lowercase>`.
  if (/^launch\/[a-z]+$/.test(raw)) return { kind: 'launch', raw, value: raw };
  if (isExtension(raw)) return { kind: 'extension', raw };

  const folded = CASE_FOLD.get(raw.toLowerCase());
  if (folded !== undefined) {
    return unrecognized(raw, `scopes are case-sensitive; the SMART scope is '${folded}'`, folded);
  }
  if (/^launch\/[A-Za-z]+$/i.test(raw)) {
    const fixed = raw.toLowerCase();
    return unrecognized(raw, `launch context scopes are always lower case ('${fixed}')`, fixed);
  }
  if (/^launch\//i.test(raw)) {
    return unrecognized(raw, "a launch context scope is 'launch' or 'launch/' followed by a lower-case name, such as launch/patient");
  }

  return parseResourceScope(raw);
}

function parseResourceScope(raw: string): ParsedScope {
  const slash = raw.indexOf('/');
  if (slash < 0) {
    if (/^[A-Za-z*]+\.[A-Za-z*]+/.test(raw)) {
      return unrecognized(raw, 'no context prefix: SMART resource scopes start with patient/, user/ or system/');
    }
    return unrecognized(raw, 'not a SMART scope');
  }
  const contextRaw = raw.slice(0, slash);
  const rest = raw.slice(slash + 1);
  const q = rest.indexOf('?');
  const beforeQuery = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? null : rest.slice(q);
  const dot = beforeQuery.indexOf('.');
  if (dot < 0) return unrecognized(raw, 'missing "." and interactions after the resource type');
  const resourceRaw = beforeQuery.slice(0, dot);
  const permRaw = beforeQuery.slice(dot + 1);

  let caseVariant = false;
  let context: ScopeContext;
  if ((SCOPE_CONTEXTS as readonly string[]).includes(contextRaw)) {
    context = contextRaw as ScopeContext;
  } else if ((SCOPE_CONTEXTS as readonly string[]).includes(contextRaw.toLowerCase())) {
    context = contextRaw.toLowerCase() as ScopeContext;
    caseVariant = true;
  } else {
    return unrecognized(raw, `unknown context '${contextRaw}': expected patient, user or system`);
  }

  let resource: string;
  if (resourceRaw === '*') {
    resource = '*';
  } else if (/^[A-Z][A-Za-z]*$/.test(resourceRaw)) {
    resource = resourceRaw;
  } else {
    const known = RESOURCE_CASE_FOLD.get(resourceRaw.toLowerCase());
    if (known === undefined) {
      return unrecognized(raw, `'${resourceRaw}' is not a FHIR resource type (types start with an upper-case letter, or use '*')`);
    }
    resource = known;
    caseVariant = true;
  }

  let version: ScopeVersion;
  let interactions: ScopeInteraction[];
  let permCanonical: string;
  const v1 = permRaw as keyof typeof V1_INTERACTIONS;
  if (Object.hasOwn(V1_INTERACTIONS, permRaw)) {
    version = 'v1';
    interactions = [...V1_INTERACTIONS[v1]];
    permCanonical = permRaw;
  } else if (lettersInOrder(permRaw) !== null) {
    version = 'v2';
    interactions = lettersInOrder(permRaw) ?? [];
    permCanonical = permRaw;
  } else {
    const lower = permRaw.toLowerCase();
    if (lower !== permRaw && (Object.hasOwn(V1_INTERACTIONS, lower) || lettersInOrder(lower) !== null)) {
      version = Object.hasOwn(V1_INTERACTIONS, lower) ? 'v1' : 'v2';
      interactions = version === 'v1' ? [...V1_INTERACTIONS[lower as keyof typeof V1_INTERACTIONS]] : (lettersInOrder(lower) ?? []);
      permCanonical = lower;
      caseVariant = true;
    } else {
      const inOrder = inOrderInteractions(lower);
      if (inOrder !== null) {
        return unrecognized(
          raw,
          `interactions must be in the order c r u d s; servers may ignore or reject '.${permRaw}' (write '.${inOrder}')`,
        );
      }
      if (permRaw.length === 0) return unrecognized(raw, 'no interactions after "."');
      if (/^[cruds]+$/i.test(permRaw)) return unrecognized(raw, `'.${permRaw}' repeats an interaction letter`);
      return unrecognized(raw, `'.${permRaw}' is not an interaction: use a subset of .cruds (v2) or .read, .write, .* (v1)`);
    }
  }

  if (query !== null) {
    if (version === 'v1') {
      return unrecognized(raw, 'query constraints are defined only for v2 scopes (for example .rs?category=...)');
    }
    const problem = queryProblem(query);
    if (problem !== null) return unrecognized(raw, problem);
  }

  if (caseVariant) {
    const fixed = `${context}/${resource}.${permCanonical}${query ?? ''}`;
    return unrecognized(raw, `scopes are case-sensitive; the SMART scope is '${fixed}'`, fixed);
  }
  return { kind: 'resource', raw, context, resource, interactions, version, query };
}

/** Splits a space-delimited scope string (RFC 6749 §3.3) on any whitespace, keeping order. */
export function parseScopeString(scope: string): ParsedScope[] {
  return scope
    .split(/\s+/)
    .filter((s) => s.length > 0)
    .map(parseScope);
}

function orderInteractions(interactions: readonly ScopeInteraction[]): ScopeInteraction[] {
  return SCOPE_INTERACTIONS.filter((i) => interactions.includes(i));
}

/** SMART 2.2 "Scope Equivalence": one atom per interaction letter; other scopes as themselves. */
export function expandScope(scope: ParsedScope): string[] {
  if (scope.kind !== 'resource') return [scope.raw];
  return orderInteractions(scope.interactions).map((i) => `${scope.context}/${scope.resource}.${i}${scope.query ?? ''}`);
}

/** Expands scopes to sorted, unique atoms (`patient/Observation.r`, `launch`, raw unrecognized strings). */
export function expandToAtoms(scopes: readonly ParsedScope[]): string[] {
  const atoms = new Set<string>();
  for (const s of scopes) for (const a of expandScope(s)) atoms.add(a);
  return [...atoms].sort(compareStrings);
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type FormatScopeInput = {
  context: ScopeContext;
  resource: string;
  interactions: readonly ScopeInteraction[];
  version: ScopeVersion;
  query?: string | null;
};

/**
 * Builds a scope string for the picker. v2 writes the in-order letters; v1 exists only for exactly
 * .rs (`.read`), .cud (`.write`) and .cruds (`.*`) without a query. Returns null when the input has
 * no SMART spelling.
 */
export function formatScope(s: FormatScopeInput): string | null {
  if (!(SCOPE_CONTEXTS as readonly string[]).includes(s.context)) return null;
  if (s.resource !== '*' && !/^[A-Z][A-Za-z]*$/.test(s.resource)) return null;
  if (s.interactions.some((i) => !SCOPE_INTERACTIONS.includes(i))) return null;
  const letters = orderInteractions(s.interactions).join('');
  if (letters.length === 0) return null;
  let query = s.query ?? '';
  if (query.length > 0 && !query.startsWith('?')) query = `?${query}`;
  if (query.length > 0 && queryProblem(query) !== null) return null;
  if (firstInvalidScopeChar(query) !== null && query.length > 0) return null;

  if (s.version === 'v2') return `${s.context}/${s.resource}.${letters}${query}`;
  if (query.length > 0) return null;
  const v1 = letters === 'rs' ? 'read' : letters === 'cud' ? 'write' : letters === 'cruds' ? '*' : null;
  return v1 === null ? null : `${s.context}/${s.resource}.${v1}`;
}
