import { describe, expect, it } from 'vitest';

import { diffScopes } from '@/lib/smart';

type Case = {
  name: string;
  requested: string;
  granted: string;
  supported?: string[];
  equivalent?: boolean;
  lost?: string[];
  gained?: string[];
  unrecognized?: string[];
  unsupported?: string[];
};

const cases: Case[] = [
  { name: 'identical strings are equivalent', requested: 'openid fhirUser patient/Observation.rs', granted: 'openid fhirUser patient/Observation.rs', equivalent: true, lost: [], gained: [] },
  { name: 'order and whitespace do not matter', requested: 'openid  fhirUser\tlaunch', granted: ' launch openid fhirUser ', equivalent: true },
  { name: 'v1 .read equals v2 .rs', requested: 'patient/Observation.read', granted: 'patient/Observation.rs', equivalent: true, lost: [], gained: [] },
  { name: 'v1 .write equals v2 .cud', requested: 'patient/Observation.write', granted: 'patient/Observation.cud', equivalent: true },
  { name: 'v1 .* equals v2 .cruds', requested: 'user/*.*', granted: 'user/*.cruds', equivalent: true },
  { name: '.rs equals .r plus .s', requested: 'patient/Observation.rs', granted: 'patient/Observation.r patient/Observation.s', equivalent: true },
  { name: '.cruds equals .rs plus .cud (SMART 2.2 example)', requested: 'patient/AllergyIntolerance.cruds', granted: 'patient/AllergyIntolerance.rs patient/AllergyIntolerance.cud', equivalent: true },
  {
    name: 'downscoped read-only grant loses the write atoms',
    requested: 'patient/AllergyIntolerance.cruds',
    granted: 'patient/AllergyIntolerance.rs',
    equivalent: false,
    lost: ['patient/AllergyIntolerance.c', 'patient/AllergyIntolerance.d', 'patient/AllergyIntolerance.u'],
    gained: [],
  },
  {
    name: 'losing search only',
    requested: 'patient/Observation.rs',
    granted: 'patient/Observation.r',
    lost: ['patient/Observation.s'],
    gained: [],
  },
  {
    name: 'a wildcard grant covers the requested type and is reported as gained',
    requested: 'patient/AllergyIntolerance.rs',
    granted: 'patient/*.rs',
    equivalent: false,
    lost: [],
    gained: ['patient/*.r', 'patient/*.s'],
  },
  {
    name: 'a requested wildcard is lost when only one type is granted',
    requested: 'patient/*.read',
    granted: 'patient/Observation.read',
    lost: ['patient/*.r', 'patient/*.s'],
    gained: [],
  },
  {
    name: 'an entirely different grant',
    requested: 'patient/AllergyIntolerance.cruds',
    granted: 'patient/Observation.rs',
    lost: ['patient/AllergyIntolerance.c', 'patient/AllergyIntolerance.d', 'patient/AllergyIntolerance.r', 'patient/AllergyIntolerance.s', 'patient/AllergyIntolerance.u'],
    gained: ['patient/Observation.r', 'patient/Observation.s'],
  },
  {
    name: 'empty grant loses everything',
    requested: 'launch/patient openid patient/Patient.r',
    granted: '',
    lost: ['launch/patient', 'openid', 'patient/Patient.r'],
    gained: [],
  },
  { name: 'nothing requested, nothing granted', requested: '', granted: '', equivalent: true, lost: [], gained: [] },
  {
    name: 'a constrained request is satisfied by an unconstrained grant (not lost)',
    requested: 'patient/Observation.rs?category=laboratory',
    granted: 'patient/Observation.rs',
    equivalent: false,
    lost: [],
    gained: ['patient/Observation.r', 'patient/Observation.s'],
  },
  {
    name: 'an unconstrained request is not satisfied by a constrained grant (and the narrower grant gains nothing)',
    requested: 'patient/Observation.rs',
    granted: 'patient/Observation.rs?category=laboratory',
    lost: ['patient/Observation.r', 'patient/Observation.s'],
    gained: [],
  },
  {
    name: 'different constraints do not cover each other',
    requested: 'patient/Observation.rs?category=laboratory',
    granted: 'patient/Observation.rs?category=vital-signs',
    lost: ['patient/Observation.r?category=laboratory', 'patient/Observation.s?category=laboratory'],
    gained: ['patient/Observation.r?category=vital-signs', 'patient/Observation.s?category=vital-signs'],
  },
  { name: 'identical constraints are equivalent', requested: 'patient/Observation.rs?category=laboratory', granted: 'patient/Observation.r?category=laboratory patient/Observation.s?category=laboratory', equivalent: true },
  {
    name: 'contexts do not cover each other',
    requested: 'patient/Observation.rs',
    granted: 'user/Observation.rs',
    lost: ['patient/Observation.r', 'patient/Observation.s'],
    gained: ['user/Observation.r', 'user/Observation.s'],
  },
  { name: 'launch/patient is not launch', requested: 'launch/patient', granted: 'launch', lost: ['launch/patient'], gained: ['launch'] },
  { name: 'offline_access swapped for online_access', requested: 'offline_access', granted: 'online_access', lost: ['offline_access'], gained: ['online_access'] },
  {
    name: 'Epic grants a case variant beside the SMART scope',
    requested: 'patient/Immunization.read',
    granted: 'patient/Immunization.read patient/Immunization.Read',
    equivalent: false,
    lost: [],
    gained: ['patient/Immunization.Read'],
    unrecognized: ['patient/Immunization.Read'],
  },
  {
    name: 'a case variant alone does not satisfy the SMART scope',
    requested: 'user/Patient.read',
    granted: 'user/Patient.Read',
    lost: ['user/Patient.r', 'user/Patient.s'],
    gained: ['user/Patient.Read'],
    unrecognized: ['user/Patient.Read'],
  },
  {
    name: 'Epic non-grammar strings compare as raw atoms',
    requested: 'Patient.read Observation.read',
    granted: 'Patient.read',
    lost: ['Observation.read'],
    gained: [],
    unrecognized: ['Patient.read', 'Observation.read'],
  },
  {
    name: 'an out-of-order grant is not interpreted',
    requested: 'patient/Observation.rs',
    granted: 'patient/Observation.sr',
    lost: ['patient/Observation.r', 'patient/Observation.s'],
    gained: ['patient/Observation.sr'],
    unrecognized: ['patient/Observation.sr'],
  },
  { name: 'extension scopes are opaque and compared exactly', requested: '__custom https://example.org/scope', granted: 'https://example.org/scope __custom', equivalent: true, unrecognized: [] },
  { name: 'extension scopes differ by a character', requested: 'https://example.org/scope', granted: 'https://example.org/scope/', lost: ['https://example.org/scope'], gained: ['https://example.org/scope/'] },
  { name: 'unrecognized lists each raw string once', requested: 'Patient.read Patient.read', granted: 'Patient.read', equivalent: true, unrecognized: ['Patient.read'] },
  // supported
  { name: 'without supported nothing is unsupported', requested: 'patient/Observation.rs', granted: 'patient/Observation.rs', unsupported: [] },
  {
    name: 'supported v1 form covers requested v2 form',
    requested: 'patient/Observation.rs launch openid',
    granted: '',
    supported: ['patient/Observation.read', 'launch', 'openid'],
    unsupported: [],
  },
  {
    name: 'supported v2 form covers requested v1 form',
    requested: 'patient/Observation.read',
    granted: '',
    supported: ['patient/Observation.rs'],
    unsupported: [],
  },
  {
    name: 'a requested scope partly outside supported is unsupported',
    requested: 'patient/Observation.cruds patient/Condition.rs',
    granted: '',
    supported: ['patient/Observation.rs', 'patient/Condition.read'],
    unsupported: ['patient/Observation.cruds'],
  },
  {
    name: 'a supported wildcard covers specific types and constrained scopes',
    requested: 'patient/Observation.rs?category=laboratory patient/Condition.read',
    granted: '',
    supported: ['patient/*.rs'],
    unsupported: [],
  },
  {
    name: 'unsupported keeps raw strings in request order, once each',
    requested: 'fhirUser Patient.read openid fhirUser',
    granted: '',
    supported: ['openid'],
    unsupported: ['fhirUser', 'Patient.read'],
  },
  { name: 'an empty supported list supports nothing', requested: 'openid', granted: 'openid', supported: [], unsupported: ['openid'] },
  { name: 'supported entries may hold several scopes', requested: 'openid fhirUser', granted: '', supported: ['openid fhirUser'], unsupported: [] },
];

describe('diffScopes', () => {
  it.each(cases)('$name', (c) => {
    const result = diffScopes({ requested: c.requested, granted: c.granted, ...(c.supported ? { supported: c.supported } : {}) });
    if (c.equivalent !== undefined) expect(result.equivalent).toBe(c.equivalent);
    if (c.lost !== undefined) expect(result.lost).toEqual(c.lost);
    if (c.gained !== undefined) expect(result.gained).toEqual(c.gained);
    if (c.unrecognized !== undefined) expect(result.unrecognized).toEqual(c.unrecognized);
    if (c.unsupported !== undefined) expect(result.unsupported).toEqual(c.unsupported);
    expect(result.equivalent).toBe(result.lost.length === 0 && result.gained.length === 0);
  });
});
