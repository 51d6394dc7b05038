import 'server-only';
import { compareRedirectUri } from '@/lib/redirect-uris';
import { diffScopes, scopesInUnadvertisedVersion, type ScopeVersion } from '@/lib/smart';
import type { AuthorizationRequestSummary, DiagnosticFinding, RequestCheck, ScopeComparison } from './types';

type CheckResult = { check: RequestCheck; findings: DiagnosticFinding[] };

const q = (s: string) => `'${s}'`;
const tokens = (s: string) => s.split(' ').filter((t) => t !== '');
const sameTokenSet = (a: string, b: string) => {
  const ta = new Set(tokens(a));
  const tb = new Set(tokens(b));
  return ta.size === tb.size && [...ta].every((t) => tb.has(t));
};
const list = (xs: readonly string[]) => xs.map(q).join(', ');

/** The issuer facts a check may use; null when the client is not registered in Registrar. */
export type CheckContext = {
  registeredResponseTypes: string[];
  /** The server's granted `scope` (registered metadata), or null when it did not record one. */
  registeredScope: string | null;
  scopesSupported: string[];
  /** The issuer's SMART capabilities (permission-v1 / permission-v2: the scope syntax it accepts). */
  capabilities: string[];
  fhirBaseUrl: string | null;
  /**
   * The FHIR base as ops entered it when it differs from the stored one only by its trailing slash
   * (stored without): the hospital may publish it that way, and then that is the aud its server wants.
   */
  fhirBaseUrlAsEntered?: string | null;
} | null;

/**
 * RFC 6749 §3.1.1: response_type is required, its space-separated values are unordered; RFC 7591
 * §2: the client may only use registered response_types (default `code`).
 */
export function checkResponseType(req: AuthorizationRequestSummary, ctx: CheckContext): CheckResult {
  const label = 'response_type';
  if (req.responseType === null || req.responseType === '') {
    return {
      check: { subject: 'response_type', label, status: 'fail', presented: null, expected: ctx ? ctx.registeredResponseTypes.join(', ') : 'code', summary: 'Missing.' },
      findings: [
        {
          code: 'RESPONSE_TYPE_MISSING',
          severity: 'error',
          subject: 'response_type',
          message: 'The request has no response_type; the server refuses it.',
          fix: "Add response_type=code (SMART apps use the authorization code flow).",
        },
      ],
    };
  }
  if (ctx === null) {
    return { check: { subject: 'response_type', label, status: 'not-checked', presented: req.responseType, expected: null, summary: 'No registration to compare with.' }, findings: [] };
  }
  const registered = ctx.registeredResponseTypes;
  if (registered.some((r) => sameTokenSet(r, req.responseType ?? ''))) {
    return { check: { subject: 'response_type', label, status: 'pass', presented: req.responseType, expected: registered.join(', '), summary: 'Registered.' }, findings: [] };
  }
  return {
    check: { subject: 'response_type', label, status: 'fail', presented: req.responseType, expected: registered.join(', '), summary: 'Not registered for this client.' },
    findings: [
      {
        code: 'RESPONSE_TYPE_NOT_REGISTERED',
        severity: 'error',
        subject: 'response_type',
        message: `The request asks for response_type ${q(req.responseType)}, but the client is registered for ${list(registered)} only.`,
        fix: registered.includes('code') ? 'Send response_type=code.' : `Send one of the registered response types (${list(registered)}), or update the registration.`,
      },
    ],
  };
}

/**
 * Scopes requested vs granted at registration (RFC 7591 §3.2.1: the server may narrow `scope`) vs
 * the issuer's scopes_supported, compared on SMART atoms (lib/smart diffScopes).
 */
export function checkScopes(req: AuthorizationRequestSummary, ctx: CheckContext): CheckResult & { comparison: ScopeComparison | null } {
  const label = 'scope';
  if (req.scope === null || req.scope.trim() === '') {
    return {
      check: { subject: 'scope', label, status: 'fail', presented: null, expected: ctx?.registeredScope ?? null, summary: 'Missing.' },
      findings: [
        {
          code: 'SCOPE_MISSING',
          severity: 'error',
          subject: 'scope',
          message: 'The request has no scope parameter; SMART App Launch requires one.',
          fix: `Send the scopes the app needs${ctx?.registeredScope ? `, within the registered ${q(ctx.registeredScope)}` : ''}.`,
        },
      ],
      comparison: null,
    };
  }
  const supported = ctx?.scopesSupported ?? [];
  if (ctx === null) {
    return {
      check: { subject: 'scope', label, status: 'not-checked', presented: req.scope, expected: null, summary: 'No registration to compare with.' },
      findings: [],
      comparison: { requested: req.scope, granted: null, supported, diff: null },
    };
  }
  const findings: DiagnosticFinding[] = [];
  if (ctx.registeredScope === null) {
    findings.push({
      code: 'SCOPE_NOT_RECORDED',
      severity: 'info',
      subject: 'scope',
      message: 'The server’s registration answer has no scope, so the requested scopes cannot be compared with what the client may ask for.',
      fix: 'If the server refuses the scopes, ask the hospital which scopes the client is allowed.',
    });
  }
  const diff = diffScopes({ requested: req.scope, granted: ctx.registeredScope ?? req.scope, ...(supported.length > 0 ? { supported } : {}) });
  if (ctx.registeredScope !== null && diff.lost.length > 0) {
    findings.push({
      code: 'SCOPE_NOT_REGISTERED',
      severity: 'warning',
      subject: 'scope',
      message: `The request asks for ${list(diff.lost)}, which the registration does not grant (registered: ${q(ctx.registeredScope)}). The server may refuse the request (invalid_scope) or silently leave these out of the token.`,
      fix: 'Request only registered scopes, or have ops update the registration to include them.',
    });
  }
  if (ctx.registeredScope !== null && diff.gained.length > 0) {
    findings.push({
      code: 'SCOPE_NOT_REQUESTED',
      severity: 'info',
      subject: 'scope',
      message: `The registration grants ${list(diff.gained)}, which this request does not ask for.`,
      fix: 'Nothing to do unless the app needs them: then add them to the request.',
    });
  }
  if (diff.unsupported.length > 0) {
    findings.push({
      code: 'SCOPE_NOT_SUPPORTED',
      severity: 'warning',
      subject: 'scope',
      message: `The issuer does not list ${list(diff.unsupported)} (or a scope covering it) in scopes_supported.`,
      fix: 'Check with the hospital whether the server supports these scopes; scopes_supported may be incomplete.',
    });
  }
  const version = scopeVersionFinding(req.scope, ctx.capabilities);
  if (version !== null) findings.push(version.finding);
  if (diff.unrecognized.length > 0) {
    findings.push({
      code: 'SCOPE_UNRECOGNIZED',
      severity: 'warning',
      subject: 'scope',
      message: `${list(diff.unrecognized)} ${diff.unrecognized.length === 1 ? 'is' : 'are'} not SMART scope grammar; ${diff.unrecognized.length === 1 ? 'it is' : 'they are'} compared as typed, letter case included.`,
      fix: 'Use the SMART spelling (for example patient/Observation.rs or patient/Observation.read) unless the server documents this exact string.',
    });
  }
  const status = findings.some((f) => f.severity === 'warning' || f.severity === 'error') ? 'warn' : 'pass';
  const summary =
    ctx.registeredScope === null
      ? 'No registered scope to compare with.'
      : diff.lost.length > 0
        ? `${diff.lost.length} requested scope atom(s) not registered.`
        : 'Every requested scope is registered.';
  const versionNote = version === null ? '' : ` Some requested scopes are written in SMART ${version.version} syntax, which the server does not advertise.`;
  return {
    check: { subject: 'scope', label, status, presented: req.scope, expected: ctx.registeredScope, summary: `${summary}${versionNote}` },
    findings,
    comparison: { requested: req.scope, granted: ctx.registeredScope, supported, diff: ctx.registeredScope === null ? null : diff },
  };
}

/**
 * SMART App Launch 2.2 capabilities permission-v1 / permission-v2: scopes written in a syntax the
 * server does not advertise may be refused (invalid_scope) even when their atoms are registered;
 * a server that advertises neither is unknown and nothing is said.
 */
export function scopeVersionFinding(scope: string, capabilities: readonly string[]): { finding: DiagnosticFinding; version: ScopeVersion } | null {
  const mismatches = scopesInUnadvertisedVersion(scope, capabilities);
  if (mismatches === null || mismatches.length === 0) return null;
  // Only one version can be missing: the server advertises at least one of the two.
  const version = mismatches[0]!.version;
  const other = version === 'v1' ? 'v2' : 'v1';
  const spellings = mismatches.map((m) => (m.exact ? `${q(m.scope)} is ${q(m.equivalent)}` : `${q(m.scope)} has no exact ${other} spelling; the nearest is ${q(m.equivalent)}, which grants more`)).join('; ');
  const many = mismatches.length > 1;
  const finding: DiagnosticFinding = {
    code: 'SCOPE_VERSION_UNSUPPORTED',
    severity: 'warning',
    subject: 'scope',
    message:
      `The request writes ${list(mismatches.map((m) => m.scope))} in SMART ${version} syntax, but the server advertises only permission-${other} in its capabilities, not permission-${version}. ` +
      `A server that parses only ${other} scopes${other === 'v1' ? ' (such as Epic)' : ''} answers invalid_scope or leaves ${many ? 'them' : 'it'} out of the token, even when the registration grants the same access in the other spelling. ` +
      `In ${other} syntax: ${spellings}.`,
    fix: `Request the ${other} spelling${many ? 's' : ''} above, or ask the hospital whether the server accepts SMART ${version} scopes (its capabilities may be incomplete).`,
  };
  return { finding, version };
}

/** SMART App Launch 2 / RFC 9700 §2.1.1: PKCE with S256; without a method RFC 7636 §4.3 means `plain`. */
export function checkPkce(req: AuthorizationRequestSummary): CheckResult {
  const label = 'PKCE (code_challenge_method)';
  const method = req.codeChallengeMethod;
  const check = (status: RequestCheck['status'], summary: string): RequestCheck => ({ subject: 'pkce', label, status, presented: method, expected: 'S256', summary });
  if (method === null || method === '') {
    return {
      check: check('fail', req.hasCodeChallenge ? 'code_challenge without a method (means plain).' : 'No PKCE.'),
      findings: [
        {
          code: 'PKCE_MISSING',
          severity: 'error',
          subject: 'pkce',
          message: req.hasCodeChallenge
            ? 'The request has a code_challenge but no code_challenge_method, which means plain (RFC 7636 §4.3). SMART requires S256, and servers such as Epic refuse plain.'
            : 'The request has no code_challenge_method (and no code_challenge). SMART App Launch 2 requires PKCE with S256.',
          fix: 'Send code_challenge=BASE64URL(SHA256(code_verifier)) and code_challenge_method=S256.',
        },
      ],
    };
  }
  if (method === 'plain') {
    return {
      check: check('fail', 'plain is not allowed.'),
      findings: [
        {
          code: 'PKCE_PLAIN',
          severity: 'error',
          subject: 'pkce',
          message: "The request uses code_challenge_method=plain. SMART requires S256 and servers must not offer plain.",
          fix: 'Send code_challenge=BASE64URL(SHA256(code_verifier)) with code_challenge_method=S256.',
        },
      ],
    };
  }
  if (method !== 'S256') {
    return {
      check: check('fail', 'Unknown method.'),
      findings: [
        {
          code: 'PKCE_METHOD_UNKNOWN',
          severity: 'error',
          subject: 'pkce',
          message: `code_challenge_method is ${q(method)}; the only accepted value is 'S256' (case-sensitive).`,
          fix: 'Send code_challenge_method=S256 exactly.',
        },
      ],
    };
  }
  if (!req.hasCodeChallenge) {
    return {
      check: check('fail', 'S256 without a code_challenge.'),
      findings: [
        {
          code: 'PKCE_CHALLENGE_MISSING',
          severity: 'error',
          subject: 'pkce',
          message: 'The request names S256 but sends no code_challenge.',
          fix: 'Send code_challenge=BASE64URL(SHA256(code_verifier)).',
        },
      ],
    };
  }
  return { check: check('pass', 'S256 with a code_challenge.'), findings: [] };
}

function describeAudDifference(aud: string, base: string): string {
  if (aud.replace(/\/+$/, '') === base.replace(/\/+$/, '')) return aud.endsWith('/') ? 'aud ends with a slash; the FHIR base URL does not.' : 'The FHIR base URL ends with a slash; aud does not.';
  if (aud.toLowerCase() === base.toLowerCase()) return 'They differ only in letter case.';
  if (aud.trim() === base.trim()) return 'They differ in surrounding whitespace.';
  return 'They are different URLs.';
}

/** SMART App Launch: `aud` is required and must be the FHIR base URL, compared byte for byte. */
export function checkAud(req: AuthorizationRequestSummary, fhirBaseUrl: string | null, fhirBaseUrlAsEntered: string | null = null): CheckResult & { aud: { presented: string; expected: string; highlight: ReturnType<typeof compareRedirectUri>['highlight'] } | null } {
  const label = 'aud';
  if (req.aud === null || req.aud === '') {
    return {
      check: { subject: 'aud', label, status: 'fail', presented: null, expected: fhirBaseUrl, summary: 'Missing.' },
      findings: [
        {
          code: 'AUD_MISSING',
          severity: fhirBaseUrl === null ? 'warning' : 'error',
          subject: 'aud',
          message: 'The request has no aud parameter. SMART App Launch requires aud: the FHIR base URL the app wants a token for.',
          fix: fhirBaseUrl === null ? 'Send aud set to the FHIR base URL.' : `Send aud=${fhirBaseUrl} (exactly, URL-encoded in the query).`,
        },
      ],
      aud: null,
    };
  }
  if (fhirBaseUrl === null) {
    return { check: { subject: 'aud', label, status: 'not-checked', presented: req.aud, expected: null, summary: 'The issuer has no known FHIR base URL.' }, findings: [], aud: null };
  }
  const highlight = compareRedirectUri(req.aud, fhirBaseUrl).highlight;
  if (req.aud === fhirBaseUrl) {
    return { check: { subject: 'aud', label, status: 'pass', presented: req.aud, expected: fhirBaseUrl, summary: 'Equals the FHIR base URL.' }, findings: [], aud: { presented: req.aud, expected: fhirBaseUrl, highlight } };
  }
  if (fhirBaseUrlAsEntered && req.aud === fhirBaseUrlAsEntered) {
    return {
      check: { subject: 'aud', label, status: 'pass', presented: req.aud, expected: fhirBaseUrlAsEntered, summary: 'Equals the FHIR base URL as it was entered for this issuer (with its trailing slash).' },
      findings: [],
      aud: { presented: req.aud, expected: fhirBaseUrlAsEntered, highlight: compareRedirectUri(req.aud, fhirBaseUrlAsEntered).highlight },
    };
  }
  return {
    check: { subject: 'aud', label, status: 'fail', presented: req.aud, expected: fhirBaseUrl, summary: 'Differs from the FHIR base URL.' },
    findings: [
      {
        code: 'AUD_MISMATCH',
        severity: 'error',
        subject: 'aud',
        message: `aud is ${q(req.aud)} but the issuer’s FHIR base URL is ${q(fhirBaseUrl)}. ${describeAudDifference(req.aud, fhirBaseUrl)} Servers compare aud byte for byte and refuse the request (or issue no usable token).`,
        fix: `Send aud=${fhirBaseUrl} exactly.`,
      },
    ],
    aud: { presented: req.aud, expected: fhirBaseUrl, highlight },
  };
}

/** SMART App Launch: `state` is required (CSRF protection, RFC 6749 §10.12). */
export function checkState(req: AuthorizationRequestSummary): CheckResult {
  const label = 'state';
  if (req.hasState) return { check: { subject: 'state', label, status: 'pass', presented: '(present)', expected: null, summary: 'Present.' }, findings: [] };
  return {
    check: { subject: 'state', label, status: 'fail', presented: null, expected: null, summary: 'Missing.' },
    findings: [
      {
        code: 'STATE_MISSING',
        severity: 'error',
        subject: 'state',
        message: 'The request has no state parameter. SMART App Launch requires it, and without it the app cannot detect a forged response.',
        fix: 'Send a fresh unguessable state value with every request and check it when the user comes back.',
      },
    ],
  };
}
