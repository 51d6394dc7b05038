import { describe, expect, it } from 'vitest';

import { validateScopeString, type ScopeFindingCode } from '@/lib/smart';

type Expect = Array<[scope: string, code: ScopeFindingCode, severity: 'error' | 'warning']>;

const summary = (scope: string, supported?: string[]) => validateScopeString(scope, supported).map((f) => [f.scope, f.code, f.severity]);

describe('validateScopeString', () => {
  it.each<[string, string, string[] | undefined, Expect]>([
    ['clean v2 request', 'launch/patient openid fhirUser offline_access patient/Observation.rs patient/Patient.r', undefined, []],
    ['clean v1 request', 'launch openid fhirUser patient/*.read user/Practitioner.read', undefined, []],
    ['extension scopes are fine', '__custom https://example.org/scope openid', undefined, []],
    ['empty string', '', undefined, []],
    ['whitespace only', ' \t\n ', undefined, []],
    ['extra whitespace is not a finding', '  openid\t\tfhirUser  ', undefined, []],
    ['broken SMART-ish interaction is an error', 'patient/Observation.xyz', undefined, [['patient/Observation.xyz', 'NOT_SMART_GRAMMAR', 'error']]],
    ['unknown context is an error', 'Patient/Observation.rs?category', undefined, [['Patient/Observation.rs?category', 'NOT_SMART_GRAMMAR', 'error']]],
    ['missing interactions is an error', 'user/Observation', undefined, [['user/Observation', 'NOT_SMART_GRAMMAR', 'error']]],
    ['v1 with a query is an error', 'patient/Observation.read?category=laboratory', undefined, [['patient/Observation.read?category=laboratory', 'NOT_SMART_GRAMMAR', 'error']]],
    ['broken launch scope is an error', 'launch/patient/x', undefined, [['launch/patient/x', 'NOT_SMART_GRAMMAR', 'error']]],
    ['invalid token characters are an error', 'openid "fhirUser"', undefined, [['"fhirUser"', 'NOT_SMART_GRAMMAR', 'error']]],
    ['Epic Patient.read is opaque: a warning, kept as typed', 'Patient.read', undefined, [['Patient.read', 'NOT_SMART_GRAMMAR', 'warning']]],
    ['free text is opaque: a warning', 'read_stuff', undefined, [['read_stuff', 'NOT_SMART_GRAMMAR', 'warning']]],
    ['case variant of .read is an error', 'patient/Immunization.Read', undefined, [['patient/Immunization.Read', 'CASE_VARIANT', 'error']]],
    ['case variant of a non-resource scope', 'OpenID fhiruser', undefined, [['OpenID', 'CASE_VARIANT', 'error'], ['fhiruser', 'CASE_VARIANT', 'error']]],
    ['case variant of launch context', 'launch/Patient', undefined, [['launch/Patient', 'CASE_VARIANT', 'error']]],
    [
      'case variant advertised by the server is only a warning',
      'patient/Immunization.Read',
      ['patient/Immunization.read', 'patient/Immunization.Read'],
      [['patient/Immunization.Read', 'CASE_VARIANT', 'warning']],
    ],
    [
      'case variant not advertised (the server lists the real one) stays an error',
      'patient/Immunization.Read',
      ['patient/Immunization.read'],
      [
        ['patient/Immunization.Read', 'CASE_VARIANT', 'error'],
        ['patient/Immunization.Read', 'NOT_SUPPORTED', 'warning'],
      ],
    ],
    ['out-of-order interactions are an error', 'patient/Observation.sr', undefined, [['patient/Observation.sr', 'INTERACTIONS_OUT_OF_ORDER', 'error']]],
    ['out-of-order interactions with a query', 'patient/Observation.sr?category=laboratory', undefined, [['patient/Observation.sr?category=laboratory', 'INTERACTIONS_OUT_OF_ORDER', 'error']]],
    ['exact duplicate', 'openid openid', undefined, [['openid', 'DUPLICATE', 'warning']]],
    ['triple duplicate flags each repeat', 'launch launch launch', undefined, [['launch', 'DUPLICATE', 'warning'], ['launch', 'DUPLICATE', 'warning']]],
    ['overlapping scopes with different atoms are not duplicates', 'patient/Observation.rs patient/Observation.s patient/Observation.r', undefined, []],
    ['same access written twice in v2', 'patient/Observation.rs user/Patient.r patient/Observation.rs', undefined, [['patient/Observation.rs', 'DUPLICATE', 'warning']]],
    [
      'v1 and v2 mixed: the minority v1 scope is flagged and the v1 duplicate too',
      'patient/Observation.rs patient/Condition.rs patient/Observation.read',
      undefined,
      [
        ['patient/Observation.read', 'DUPLICATE', 'warning'],
        ['patient/Observation.read', 'V1_V2_MIXED', 'warning'],
      ],
    ],
    [
      'v1 and v2 mixed: minority v2 flagged',
      'patient/Observation.read patient/Condition.read patient/Encounter.cruds',
      undefined,
      [['patient/Encounter.cruds', 'V1_V2_MIXED', 'warning']],
    ],
    [
      'v1 and v2 mixed: tie flags v1',
      'patient/Observation.rs patient/Condition.read',
      undefined,
      [['patient/Condition.read', 'V1_V2_MIXED', 'warning']],
    ],
    ['non-resource scopes do not count as v1 or v2', 'patient/Observation.read launch openid', undefined, []],
    ['supported: covered by a v1 form', 'patient/Observation.rs openid', ['patient/Observation.read', 'openid'], []],
    ['supported: covered by a wildcard', 'patient/Observation.rs?category=laboratory', ['patient/*.rs'], []],
    [
      'supported: write not supported',
      'patient/Observation.cruds launch',
      ['patient/Observation.rs', 'launch'],
      [['patient/Observation.cruds', 'NOT_SUPPORTED', 'warning']],
    ],
    ['supported: opaque string listed by the server', 'Patient.read', ['Patient.read'], [['Patient.read', 'NOT_SMART_GRAMMAR', 'warning']]],
    ['supported: an empty list supports nothing', 'openid', [], [['openid', 'NOT_SUPPORTED', 'warning']]],
  ])('%s', (_name, scope, supported, expected) => {
    expect(summary(scope, supported)).toEqual(expected);
  });

  it('names the in-order form for out-of-order interactions', () => {
    const [finding] = validateScopeString('user/Patient.sdr');
    expect(finding?.message).toContain("'user/Patient.rds'");
  });

  it('names the SMART scope a case variant resembles', () => {
    const [finding] = validateScopeString('user/Patient.Read');
    expect(finding?.message).toContain("'user/Patient.read'");
  });

  it('names the other-version spelling for mixed v1/v2', () => {
    const findings = validateScopeString('patient/Observation.rs patient/Condition.rs patient/Encounter.write');
    expect(findings).toHaveLength(1);
    expect(findings[0]?.message).toContain("'patient/Encounter.cud'");
  });

  it('says what an opaque string is and keeps it as typed', () => {
    const [finding] = validateScopeString('Patient.read');
    expect(finding?.message).toMatch(/kept as typed/);
    expect(finding?.message).toMatch(/no context prefix/);
  });

  it('explains why a broken SMART-ish scope is wrong', () => {
    const [finding] = validateScopeString('patient/Observation.xyz');
    expect(finding?.message).toMatch(/'\.xyz' is not an interaction/);
  });
});
