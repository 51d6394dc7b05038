import { describe, expect, it } from 'vitest';

import {
  COMMON_FHIR_RESOURCES,
  SMART_NON_RESOURCE_SCOPES,
  expandToAtoms,
  formatScope,
  parseScope,
  parseScopeString,
  type FormatScopeInput,
  type ParsedScope,
} from '@/lib/smart';

describe('parseScope reads SMART resource scopes', () => {
  it.each<[string, Partial<ParsedScope>]>([
    ['patient/Observation.rs', { kind: 'resource', context: 'patient', resource: 'Observation', interactions: ['r', 's'], version: 'v2', query: null }],
    ['user/Patient.cruds', { kind: 'resource', context: 'user', resource: 'Patient', interactions: ['c', 'r', 'u', 'd', 's'], version: 'v2' }],
    ['system/Encounter.cud', { kind: 'resource', context: 'system', resource: 'Encounter', interactions: ['c', 'u', 'd'], version: 'v2' }],
    ['patient/Observation.r', { kind: 'resource', interactions: ['r'], version: 'v2' }],
    ['patient/Observation.s', { kind: 'resource', interactions: ['s'], version: 'v2' }],
    ['patient/Condition.cs', { kind: 'resource', interactions: ['c', 's'], version: 'v2' }],
    ['patient/*.rs', { kind: 'resource', resource: '*', interactions: ['r', 's'], version: 'v2' }],
    ['system/*.cruds', { kind: 'resource', context: 'system', resource: '*', version: 'v2' }],
    // v1 suffixes map to v2 interaction sets (SMART 2.2 "v1 .read => v2 .rs" ...)
    ['patient/Observation.read', { kind: 'resource', interactions: ['r', 's'], version: 'v1', query: null }],
    ['patient/Observation.write', { kind: 'resource', interactions: ['c', 'u', 'd'], version: 'v1' }],
    ['patient/Observation.*', { kind: 'resource', interactions: ['c', 'r', 'u', 'd', 's'], version: 'v1' }],
    ['patient/*.read', { kind: 'resource', resource: '*', interactions: ['r', 's'], version: 'v1' }],
    ['user/*.*', { kind: 'resource', context: 'user', resource: '*', interactions: ['c', 'r', 'u', 'd', 's'], version: 'v1' }],
    // query-constrained scopes keep the constraint exactly as given
    ['patient/Observation.rs?category=laboratory', { kind: 'resource', query: '?category=laboratory', interactions: ['r', 's'] }],
    [
      'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
      { kind: 'resource', resource: 'Observation', query: '?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory' },
    ],
    ['patient/Observation.rs?category=vital-signs&status=final', { kind: 'resource', query: '?category=vital-signs&status=final' }],
    ['patient/Observation.rs?code:in=http://valueset.example.org/ValueSet/diabetes-codes', { kind: 'resource', query: '?code:in=http://valueset.example.org/ValueSet/diabetes-codes' }],
    // resource types outside the common list are still grammar
    ['patient/BodyStructure.rs', { kind: 'resource', resource: 'BodyStructure' }],
  ])('%s', (raw, expected) => {
    expect(parseScope(raw)).toEqual(expect.objectContaining({ raw, ...expected }));
  });
});

describe('parseScope reads non-resource and extension scopes', () => {
  it.each<[string, ParsedScope]>([
    ['launch', { kind: 'launch', raw: 'launch', value: 'launch' }],
    ['launch/patient', { kind: 'launch', raw: 'launch/patient', value: 'launch/patient' }],
    ['launch/encounter', { kind: 'launch', raw: 'launch/encounter', value: 'launch/encounter' }],
    ['launch/imagingstudy', { kind: 'launch', raw: 'launch/imagingstudy', value: 'launch/imagingstudy' }],
    ['openid', { kind: 'identity', raw: 'openid' }],
    ['fhirUser', { kind: 'identity', raw: 'fhirUser' }],
    ['profile', { kind: 'identity', raw: 'profile' }],
    ['offline_access', { kind: 'access', raw: 'offline_access' }],
    ['online_access', { kind: 'access', raw: 'online_access' }],
    ['https://example.org/scope', { kind: 'extension', raw: 'https://example.org/scope' }],
    ['https://ehr.example.org/scopes/profilePhoto.manage', { kind: 'extension', raw: 'https://ehr.example.org/scopes/profilePhoto.manage' }],
    ['urn:example:scope:read', { kind: 'extension', raw: 'urn:example:scope:read' }],
    ['__custom', { kind: 'extension', raw: '__custom' }],
    ['__profilePhoto.manage', { kind: 'extension', raw: '__profilePhoto.manage' }],
  ])('%s', (raw, expected) => {
    expect(parseScope(raw)).toEqual(expected);
  });
});

describe('parseScope keeps case variants raw and names the SMART scope they resemble', () => {
  it.each([
    ['patient/Immunization.Read', 'patient/Immunization.read'],
    ['user/Patient.Read', 'user/Patient.read'],
    ['patient/Observation.READ', 'patient/Observation.read'],
    ['patient/Observation.Write', 'patient/Observation.write'],
    ['patient/Observation.RS', 'patient/Observation.rs'],
    ['Patient/Observation.read', 'patient/Observation.read'],
    ['USER/Observation.rs', 'user/Observation.rs'],
    ['patient/observation.rs', 'patient/Observation.rs'],
    ['patient/allergyintolerance.read', 'patient/AllergyIntolerance.read'],
    ['patient/observation.rs?category=laboratory', 'patient/Observation.rs?category=laboratory'],
    ['OpenID', 'openid'],
    ['fhiruser', 'fhirUser'],
    ['FHIRUSER', 'fhirUser'],
    ['Launch', 'launch'],
    ['Launch/Patient', 'launch/patient'],
    ['launch/Patient', 'launch/patient'],
    ['launch/DiagnosticReport', 'launch/diagnosticreport'],
    ['Offline_Access', 'offline_access'],
  ])('%s → %s', (raw, canonical) => {
    const parsed = parseScope(raw);
    expect(parsed).toMatchObject({ kind: 'unrecognized', raw, caseVariantOf: canonical });
  });
});

describe('parseScope leaves everything else unrecognized with a reason', () => {
  it.each([
    ['Patient.read', /no context prefix/],
    ['Observation.rs', /no context prefix/],
    ['patient/Observation.xyz', /not an interaction/],
    ['patient/Observation.', /no interactions/],
    ['patient/Observation', /missing "\."/],
    ['patient/Observation.sr', /order c r u d s.*'\.rs'/],
    ['patient/Observation.sdr', /order c r u d s.*'\.rds'/],
    ['patient/Observation.rrs', /repeats/],
    ['patient/Observation.read?category=laboratory', /only for v2/],
    ['patient/Observation.rs?', /empty/],
    ['patient/Observation.rs?category', /not param=value/],
    ['patient/Observation.rs?=laboratory', /not param=value/],
    ['practitioner/Observation.rs', /unknown context 'practitioner'/],
    ['patient/observationx.rs', /not a FHIR resource type/],
    ['patient/Observation/x.rs', /not a FHIR resource type/],
    ['patient/Obs-ervation.rs', /not a FHIR resource type/],
    ['launch/', /'launch\/' followed by a lower-case name/],
    ['launch/patient/x', /'launch\/' followed by a lower-case name/],
    ['launch/patient.rs', /'launch\/' followed by a lower-case name/],
    ['patient/Observation.rs"', /not allowed in an OAuth scope token/],
    ['patient/Observation.r\\s', /not allowed/],
    ['scope with space', /whitespace/],
    ['caf\u00e9', /not allowed/],
    ['', /empty/],
    ['read', /not a SMART scope/],
  ])('%j', (raw, reason) => {
    const parsed = parseScope(raw);
    expect(parsed.kind).toBe('unrecognized');
    if (parsed.kind !== 'unrecognized') return;
    expect(parsed.reason).toMatch(reason);
    expect(parsed.caseVariantOf).toBeUndefined();
  });
});

describe('parseScopeString', () => {
  it.each([
    ['openid fhirUser', ['openid', 'fhirUser']],
    ['  openid   fhirUser  ', ['openid', 'fhirUser']],
    ['openid\tfhirUser\nlaunch', ['openid', 'fhirUser', 'launch']],
    ['\t\n ', []],
    ['', []],
    ['launch launch', ['launch', 'launch']],
    ['patient/Observation.rs launch/patient openid', ['patient/Observation.rs', 'launch/patient', 'openid']],
  ])('%j keeps order and drops empties', (input, raws) => {
    expect(parseScopeString(input).map((s) => s.raw)).toEqual(raws);
  });
});

describe('expandToAtoms', () => {
  const atoms = (s: string) => expandToAtoms(parseScopeString(s));

  it.each([
    ['patient/Observation.read', ['patient/Observation.r', 'patient/Observation.s']],
    ['patient/Observation.write', ['patient/Observation.c', 'patient/Observation.d', 'patient/Observation.u']],
    ['patient/Observation.*', ['patient/Observation.c', 'patient/Observation.d', 'patient/Observation.r', 'patient/Observation.s', 'patient/Observation.u']],
    ['patient/*.read', ['patient/*.r', 'patient/*.s']],
    ['patient/Observation.rs?category=laboratory', ['patient/Observation.r?category=laboratory', 'patient/Observation.s?category=laboratory']],
    ['openid launch/patient', ['launch/patient', 'openid']],
    ['Patient.read patient/Immunization.Read', ['Patient.read', 'patient/Immunization.Read']],
    ['__custom https://example.org/scope', ['__custom', 'https://example.org/scope']],
    ['patient/Observation.rs patient/Observation.read', ['patient/Observation.r', 'patient/Observation.s']],
    ['', []],
  ])('%j', (input, expected) => {
    expect(atoms(input)).toEqual(expected);
  });

  it.each([
    ['patient/Observation.read', 'patient/Observation.rs'],
    ['patient/Observation.write', 'patient/Observation.cud'],
    ['patient/Observation.*', 'patient/Observation.cruds'],
    ['patient/Observation.rs', 'patient/Observation.r patient/Observation.s'],
    ['patient/Observation.cruds', 'patient/Observation.rs patient/Observation.cud'],
    ['user/*.*', 'user/*.read user/*.write'],
  ])('%s has the same atoms as %s', (a, b) => {
    expect(atoms(a)).toEqual(atoms(b));
  });

  it('does not fold case variants into the SMART scope', () => {
    expect(atoms('patient/Immunization.Read')).not.toEqual(atoms('patient/Immunization.read'));
  });
});

describe('formatScope', () => {
  it.each<[FormatScopeInput, string | null]>([
    [{ context: 'patient', resource: 'Observation', interactions: ['r', 's'], version: 'v2' }, 'patient/Observation.rs'],
    [{ context: 'patient', resource: 'Observation', interactions: ['s', 'r'], version: 'v2' }, 'patient/Observation.rs'],
    [{ context: 'user', resource: '*', interactions: ['d', 'c', 's', 'u', 'r'], version: 'v2' }, 'user/*.cruds'],
    [{ context: 'system', resource: 'Encounter', interactions: ['c'], version: 'v2' }, 'system/Encounter.c'],
    [{ context: 'patient', resource: 'Observation', interactions: ['r', 's'], version: 'v2', query: '?category=laboratory' }, 'patient/Observation.rs?category=laboratory'],
    [{ context: 'patient', resource: 'Observation', interactions: ['r', 's'], version: 'v2', query: 'category=laboratory' }, 'patient/Observation.rs?category=laboratory'],
    [{ context: 'patient', resource: 'Observation', interactions: ['r', 's'], version: 'v2', query: null }, 'patient/Observation.rs'],
    [{ context: 'patient', resource: 'Observation', interactions: ['r', 's'], version: 'v1' }, 'patient/Observation.read'],
    [{ context: 'patient', resource: 'Observation', interactions: ['u', 'c', 'd'], version: 'v1' }, 'patient/Observation.write'],
    [{ context: 'patient', resource: '*', interactions: ['c', 'r', 'u', 'd', 's'], version: 'v1' }, 'patient/*.*'],
    // v1 has no spelling for these sets
    [{ context: 'patient', resource: 'Observation', interactions: ['r'], version: 'v1' }, null],
    [{ context: 'patient', resource: 'Observation', interactions: ['r', 'u'], version: 'v1' }, null],
    [{ context: 'patient', resource: 'Observation', interactions: ['r', 's'], version: 'v1', query: '?category=laboratory' }, null],
    // nothing to format
    [{ context: 'patient', resource: 'Observation', interactions: [], version: 'v2' }, null],
    [{ context: 'patient', resource: 'observation', interactions: ['r'], version: 'v2' }, null],
    [{ context: 'patient', resource: '', interactions: ['r'], version: 'v2' }, null],
    [{ context: 'patient', resource: 'Observation', interactions: ['r'], version: 'v2', query: '?' }, null],
  ])('%j → %j', (input, expected) => {
    expect(formatScope(input)).toBe(expected);
  });

  it('round-trips through parseScope', () => {
    for (const resource of ['Observation', '*']) {
      const scope = formatScope({ context: 'user', resource, interactions: ['c', 'r'], version: 'v2' });
      expect(scope).not.toBeNull();
      expect(parseScope(scope ?? '')).toMatchObject({ kind: 'resource', resource, interactions: ['c', 'r'], version: 'v2' });
    }
  });
});

describe('constants', () => {
  it('lists exactly the SMART non-resource scopes, each parsing as recognised', () => {
    expect([...SMART_NON_RESOURCE_SCOPES].sort()).toEqual(
      ['fhirUser', 'launch', 'launch/encounter', 'launch/patient', 'offline_access', 'online_access', 'openid', 'profile'].sort(),
    );
    for (const s of SMART_NON_RESOURCE_SCOPES) expect(parseScope(s).kind).not.toBe('unrecognized');
  });

  it('offers about forty unique resource types that all make valid scopes', () => {
    expect(COMMON_FHIR_RESOURCES.length).toBeGreaterThanOrEqual(35);
    expect(new Set(COMMON_FHIR_RESOURCES).size).toBe(COMMON_FHIR_RESOURCES.length);
    for (const r of ['Patient', 'Observation', 'Condition', 'MedicationRequest', 'AllergyIntolerance', 'Immunization', 'DocumentReference']) {
      expect(COMMON_FHIR_RESOURCES).toContain(r);
    }
    for (const r of COMMON_FHIR_RESOURCES) expect(parseScope(`patient/${r}.rs`).kind).toBe('resource');
  });
});
