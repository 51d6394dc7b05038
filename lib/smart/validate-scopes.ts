// Pure module (browser-safe): live validation of the scope field in the onboarding form.
import { atomKeys, unsupportedScopes } from './scope-diff';
import { formatScope, inOrderInteractions, parseScopeString, type ParsedScope, type ResourceScope } from './scopes';

export type ScopeFindingCode =
  | 'NOT_SMART_GRAMMAR'
  | 'CASE_VARIANT'
  | 'NOT_SUPPORTED'
  | 'DUPLICATE'
  | 'V1_V2_MIXED'
  | 'INTERACTIONS_OUT_OF_ORDER';

export type ScopeFinding = {
  scope: string;
  severity: 'error' | 'warning';
  code: ScopeFindingCode;
  message: string;
};

/**
 * A string that tries to be SMART grammar (a context prefix or `launch`) but fails is broken and an
 * error; anything else is an opaque server-specific scope (Epic's `Patient.read`) that the server
 * may well accept, so it is a warning and kept as typed.
 */
function looksSmartish(raw: string): boolean {
  return /^(patient|user|system)\//i.test(raw) || /^launch(\/|$)/i.test(raw);
}

function outOfOrderFix(raw: string): string | null {
  const m = /^([^/]+\/[^.?]+)\.([^?]*)(\?.*)?$/.exec(raw);
  if (m === null) return null;
  const inOrder = inOrderInteractions((m[2] ?? '').toLowerCase());
  return inOrder === null || inOrder === (m[2] ?? '') ? null : `${m[1] ?? ''}.${inOrder}${m[3] ?? ''}`;
}

function grammarFinding(s: Extract<ParsedScope, { kind: 'unrecognized' }>, advertised: boolean): ScopeFinding {
  // A string the server itself advertises in scopes_supported is what it expects: only warn.
  const soften = (severity: 'error' | 'warning'): 'error' | 'warning' => (advertised ? 'warning' : severity);
  const advertisedNote = advertised ? ' The server lists it in scopes_supported, so it is kept as typed.' : '';
  if (s.caseVariantOf !== undefined) {
    return {
      scope: s.raw,
      severity: soften('error'),
      code: 'CASE_VARIANT',
      message: `'${s.raw}' differs only in letter case from the SMART scope '${s.caseVariantOf}'. Scopes are case-sensitive, so a server may ignore or reject it.${advertisedNote}`,
    };
  }
  const fix = outOfOrderFix(s.raw);
  if (fix !== null && /^(patient|user|system)\//.test(s.raw)) {
    return {
      scope: s.raw,
      severity: soften('error'),
      code: 'INTERACTIONS_OUT_OF_ORDER',
      message: `'${s.raw}' lists its interactions out of order; SMART requires the order c r u d s and servers may ignore or reject it. Write '${fix}'.${advertisedNote}`,
    };
  }
  const smartish = looksSmartish(s.raw) || /[^\x21\x23-\x5b\x5d-\x7e]/.test(s.raw);
  return {
    scope: s.raw,
    severity: soften(smartish ? 'error' : 'warning'),
    code: 'NOT_SMART_GRAMMAR',
    message: smartish
      ? `'${s.raw}' is not a valid SMART scope: ${s.reason}.${advertisedNote}`
      : `'${s.raw}' is not SMART grammar (${s.reason}); it is kept as typed and only a server that defines it will understand it.${advertisedNote}`,
  };
}

function otherVersionSpelling(s: ResourceScope): string | null {
  return formatScope({ ...s, version: s.version === 'v1' ? 'v2' : 'v1' });
}

/**
 * Live validation of a requested scope string (SMART App Launch 2.2 grammar, RFC 6749 §3.3 tokens).
 * Findings come in the order of the scopes in the string.
 */
export function validateScopeString(scope: string, supported?: readonly string[]): ScopeFinding[] {
  const parsed = parseScopeString(scope);
  const findings: Array<ScopeFinding & { index: number }> = [];
  const advertised = new Set(supported ?? []);
  const unsupported = supported === undefined ? new Set<string>() : unsupportedScopes(parsed, supported);

  const firstRaw = new Map<string, number>();
  const firstByAtoms = new Map<string, string>();
  parsed.forEach((s, index) => {
    if (s.kind === 'unrecognized') findings.push({ index, ...grammarFinding(s, advertised.has(s.raw)) });

    if (firstRaw.has(s.raw)) {
      findings.push({
        index,
        scope: s.raw,
        severity: 'warning',
        code: 'DUPLICATE',
        message: `'${s.raw}' appears more than once.`,
      });
      return;
    }
    firstRaw.set(s.raw, index);

    if (s.kind === 'resource') {
      const key = atomKeys(s).join(' ');
      const same = firstByAtoms.get(key);
      if (same !== undefined) {
        findings.push({
          index,
          scope: s.raw,
          severity: 'warning',
          code: 'DUPLICATE',
          message: `'${s.raw}' grants the same access as '${same}'.`,
        });
      } else {
        firstByAtoms.set(key, s.raw);
      }
    }

    if (unsupported.has(s.raw)) {
      findings.push({
        index,
        scope: s.raw,
        severity: 'warning',
        code: 'NOT_SUPPORTED',
        message: `The server does not list '${s.raw}' (or a scope covering it) in scopes_supported; it may refuse or drop it.`,
      });
    }
  });

  // Mixed v1/v2: flag the scopes written in the less-used version (v1 on a tie).
  const resources = parsed
    .map((s, index) => ({ s, index }))
    .filter((e): e is { s: ResourceScope; index: number } => e.s.kind === 'resource');
  const v1 = resources.filter((e) => e.s.version === 'v1');
  const v2 = resources.filter((e) => e.s.version === 'v2');
  if (v1.length > 0 && v2.length > 0) {
    const minority = v1.length <= v2.length ? v1 : v2;
    const majority = minority === v1 ? 'v2' : 'v1';
    const seen = new Set<string>();
    for (const { s, index } of minority) {
      if (seen.has(s.raw)) continue;
      seen.add(s.raw);
      const other = otherVersionSpelling(s);
      findings.push({
        index,
        scope: s.raw,
        severity: 'warning',
        code: 'V1_V2_MIXED',
        message:
          `'${s.raw}' uses SMART ${s.version} syntax while the other resource scopes use ${majority}.` +
          (other === null ? '' : ` The ${majority} spelling is '${other}'.`),
      });
    }
  }

  return findings.sort((a, b) => a.index - b.index).map(({ index: _index, ...f }) => f);
}
