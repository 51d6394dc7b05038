import { describe, expect, it } from 'vitest';

import { advertisedScopeVersions, scopesInUnadvertisedVersion } from '@/lib/smart';

const V1_ONLY = ['launch-ehr', 'client-confidential-asymmetric', 'permission-v1'];
const V2_ONLY = ['launch-standalone', 'permission-v2'];
const BOTH = ['permission-v1', 'permission-v2'];

describe('advertisedScopeVersions (SMART 2.2 capabilities permission-v1 / permission-v2)', () => {
  it.each([
    [V1_ONLY, { v1: true, v2: false }],
    [V2_ONLY, { v1: false, v2: true }],
    [BOTH, { v1: true, v2: true }],
    [['launch-ehr', 'sso-openid-connect'], null],
    [[], null],
  ])('%j → %j', (capabilities, expected) => {
    expect(advertisedScopeVersions(capabilities)).toEqual(expected);
  });
});

describe('scopesInUnadvertisedVersion', () => {
  it('a v2 scope at a server that advertises only permission-v1 (Epic) is named with its v1 spelling', () => {
    expect(scopesInUnadvertisedVersion('openid fhirUser launch/patient patient/Observation.rs', V1_ONLY)).toEqual([
      { scope: 'patient/Observation.rs', version: 'v2', equivalent: 'patient/Observation.read', exact: true },
    ]);
  });

  it('a v1 scope at a server that advertises only permission-v2 is named with its v2 spelling', () => {
    expect(scopesInUnadvertisedVersion('patient/Observation.read user/*.write system/Patient.*', V2_ONLY)).toEqual([
      { scope: 'patient/Observation.read', version: 'v1', equivalent: 'patient/Observation.rs', exact: true },
      { scope: 'user/*.write', version: 'v1', equivalent: 'user/*.cud', exact: true },
      { scope: 'system/Patient.*', version: 'v1', equivalent: 'system/Patient.cruds', exact: true },
    ]);
  });

  it('a v2 scope v1 cannot say exactly gets the smallest v1 scope that covers it, marked inexact', () => {
    expect(scopesInUnadvertisedVersion('patient/Observation.r patient/Observation.cu patient/Observation.rs?category=laboratory patient/Condition.cruds', V1_ONLY)).toEqual([
      { scope: 'patient/Observation.r', version: 'v2', equivalent: 'patient/Observation.read', exact: false },
      { scope: 'patient/Observation.cu', version: 'v2', equivalent: 'patient/Observation.write', exact: false },
      { scope: 'patient/Observation.rs?category=laboratory', version: 'v2', equivalent: 'patient/Observation.read', exact: false },
      { scope: 'patient/Condition.cruds', version: 'v2', equivalent: 'patient/Condition.*', exact: true },
    ]);
  });

  it('nothing when the server advertises the version used, or both', () => {
    expect(scopesInUnadvertisedVersion('patient/Observation.read', V1_ONLY)).toEqual([]);
    expect(scopesInUnadvertisedVersion('patient/Observation.rs', V2_ONLY)).toEqual([]);
    expect(scopesInUnadvertisedVersion('patient/Observation.rs patient/Condition.read', BOTH)).toEqual([]);
  });

  it('unknown (null) when the server advertises neither version, whatever is requested', () => {
    expect(scopesInUnadvertisedVersion('patient/Observation.rs', ['launch-ehr'])).toBeNull();
    expect(scopesInUnadvertisedVersion('patient/Observation.read', [])).toBeNull();
  });

  it('non-resource, unrecognised and repeated scopes are not listed twice or at all', () => {
    expect(scopesInUnadvertisedVersion('openid launch offline_access Patient.read patient/Observation.Read patient/Observation.rs patient/Observation.rs', V1_ONLY)).toEqual([
      { scope: 'patient/Observation.rs', version: 'v2', equivalent: 'patient/Observation.read', exact: true },
    ]);
  });
});
