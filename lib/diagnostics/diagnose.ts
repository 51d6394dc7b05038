import 'server-only';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { AppError } from '@/lib/errors';
import { createDiffBudget, findClosestRegisteredUri, type ClosestRegisteredUri, type DiffBudget } from '@/lib/redirect-uris';
import { parseAuthorizationRequestUrl, type ParsedAuthorizationRequest } from './parse-request';
import { findNearClientIds, findRegistrationsByClientId, type RegistrationForDiagnosis } from './queries';
import { redirectFindings } from './redirect-findings';
import { checkAud, checkPkce, checkResponseType, checkScopes, checkState, type CheckContext } from './request-checks';
import { diagnosisInputSchema, splitPastedUris } from './schemas';
import type { Candidate, CandidateRegistration, Diagnosis, DiagnosisInput, DiagnosticFinding, FindingSeverity, RequestCheck, Verdict } from './types';

/** Epic applies registration changes after about 30 minutes (Epic developer documentation). */
export const EPIC_SYNC_DELAY_MS = 30 * 60_000;

const q = (s: string) => `'${s}'`;
const SEVERITY_ORDER: Record<FindingSeverity, number> = { error: 0, warning: 1, info: 2 };

/** Epic's FHIR base URLs look like https://host/…/api/FHIR/R4. */
export function looksLikeEpic(fhirBaseUrl: string | null): boolean {
  return fhirBaseUrl !== null && fhirBaseUrl.toLowerCase().includes('/api/fhir/');
}

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
/** Loose comparison for finding an issuer by what a person typed (never for a verdict). */
const loose = (s: string) => s.trim().replace(/\/+$/, '').toLowerCase();
const withoutQuery = (s: string) => s.split(/[?#]/)[0] ?? s;

function verdictOf(presented: string, comparison: ClosestRegisteredUri): Verdict {
  if (comparison.match && comparison.candidate === presented) return 'exact-match';
  if (comparison.match) return 'loopback-port-match';
  return 'no-match';
}

/** Exact match first, then loopback-port match, then the smallest edit distance. */
function rankCandidate(presented: string, c: Candidate): [number, number] {
  const v = verdictOf(presented, c.comparison);
  const best = c.comparison.perCandidate.find((p) => p.uri === c.comparison.candidate);
  return [v === 'exact-match' ? 0 : v === 'loopback-port-match' ? 1 : 2, best?.distance ?? Number.MAX_SAFE_INTEGER];
}

function toCandidateRegistration(r: RegistrationForDiagnosis): CandidateRegistration {
  return {
    id: r.id,
    clientId: r.clientId,
    environment: r.environment,
    status: r.status,
    updatedAt: r.updatedAt.toISOString(),
    issuerId: r.issuerId,
    issuerUrl: r.issuerUrl,
    fhirBaseUrl: r.fhirBaseUrl,
    authorizationEndpoint: r.authorizationEndpoint,
    healthSystemName: r.healthSystemName,
  };
}

const issuerLabel = (r: { issuerUrl: string | null; inputUrl?: string; healthSystemName: string }) => `${r.healthSystemName} (${r.issuerUrl ?? r.inputUrl ?? 'issuer'})`;

/**
 * Narrows the registrations of a client id to the issuer the request targets: the issuer typed
 * into the form (issuer URL, FHIR base or input URL), else the authorize endpoint of the URL.
 */
function scopeRegistrations(rows: RegistrationForDiagnosis[], issuerHint: string | null, authorizeEndpoint: string | null, findings: DiagnosticFinding[]): Set<string> {
  let inScope = rows;
  if (issuerHint !== null) {
    const urls = (r: RegistrationForDiagnosis) => [r.issuerUrl, r.inputUrl, r.fhirBaseUrl, r.authorizationEndpoint].filter((u): u is string => u !== null);
    const exact = rows.filter((r) => urls(r).includes(issuerHint));
    inScope = exact.length > 0 ? exact : rows.filter((r) => urls(r).some((u) => loose(u) === loose(issuerHint)));
    if (inScope.length === 0) {
      findings.push({
        code: 'CLIENT_NOT_AT_ISSUER',
        severity: 'error',
        subject: 'client_id',
        message: `The client id is not registered at ${q(issuerHint)} in Registrar. It is registered at ${rows.map((r) => issuerLabel(r)).join('; ')}. The server will answer invalid_client or "unknown client".`,
        fix: 'Check that the app uses the client id issued by this hospital and environment (each issuer issues its own), or register the app at this issuer.',
      });
      return new Set();
    }
  }
  if (authorizeEndpoint !== null) {
    const endpointOf = (r: RegistrationForDiagnosis) => (r.authorizationEndpoint === null ? null : withoutQuery(r.authorizationEndpoint));
    const exact = inScope.filter((r) => endpointOf(r) === authorizeEndpoint);
    const matching = exact.length > 0 ? exact : inScope.filter((r) => endpointOf(r) !== null && loose(endpointOf(r) ?? '') === loose(authorizeEndpoint));
    if (matching.length > 0) {
      inScope = matching;
    } else {
      const known = [...new Set(inScope.map((r) => r.authorizationEndpoint).filter((e): e is string => e !== null))];
      findings.push({
        code: 'AUTHORIZE_ENDPOINT_UNKNOWN',
        severity: 'warning',
        subject: 'request',
        message: `The request goes to ${q(authorizeEndpoint)}, which is not the authorization endpoint discovered for ${inScope.length === 1 ? 'the issuer' : 'any issuer'} where this client is registered${known.length > 0 ? ` (${known.map(q).join(', ')})` : ''}. The app may be pointing at another hospital or environment.`,
        fix: 'Use the authorization endpoint from the issuer’s discovery document (.well-known/smart-configuration), for the environment where the client id was issued.',
      });
    }
  }
  return new Set(inScope.map((r) => r.id));
}

/**
 * Explains why an authorization request is (or would be) refused: the presented redirect URI
 * against the registered ones as raw strings (RFC 9700 §2.1 exact match, RFC 8252 §7.3 loopback
 * port exception only), then response_type, scopes, PKCE S256, aud and state (SMART App Launch).
 */
export async function diagnoseAuthorizationRequest(actor: Actor, input: DiagnosisInput, options: { now?: Date; budget?: DiffBudget } = {}): Promise<Diagnosis> {
  assertCan(actor, 'diagnostics:run');
  const parsed = diagnosisInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path[0];
    const field = path === 'authorizationUrl' ? 'url' : path === 'clientId' ? 'client_id' : path === 'redirectUri' ? 'redirect_uri' : path === 'registeredUris' ? 'registered' : path === 'issuer' ? 'issuer' : undefined;
    throw new AppError('INVALID', issue?.message ?? 'Some fields need attention.', field ? { field } : undefined);
  }
  const data = parsed.data;
  const now = options.now ?? new Date();
  // One budget for the whole diagnosis: its character-level work stays bounded however many
  // registrations of the client id are compared (lib/redirect-uris/text-diff.ts).
  const budget = options.budget ?? createDiffBudget();
  const findings: DiagnosticFinding[] = [];
  const checks: RequestCheck[] = [];

  const finish = (d: Omit<Diagnosis, 'findings' | 'checks' | 'diagnosedAt' | 'mode'>): Diagnosis => ({
    mode: data.mode,
    ...d,
    findings: findings.map((f, i) => ({ f, i })).sort((a, b) => SEVERITY_ORDER[a.f.severity] - SEVERITY_ORDER[b.f.severity] || a.i - b.i).map(({ f }) => f),
    checks,
    diagnosedAt: now.toISOString(),
  });

  // ---- pasted registered URIs: no registration, no request checks ----
  if (data.mode === 'pasted') {
    const registered = splitPastedUris(data.registeredUris);
    if (registered.length === 0) throw new AppError('INVALID', 'Paste at least one registered redirect URI.', { field: 'registered' });
    const comparison = findClosestRegisteredUri(data.redirectUri, registered, { budget });
    findings.push(...redirectFindings(data.redirectUri, comparison, { epic: false }));
    const candidate: Candidate = { source: 'pasted', registration: null, inScope: true, redirectUris: registered, comparison };
    const verdict = verdictOf(data.redirectUri, comparison);
    checks.push(redirectCheck(data.redirectUri, comparison, verdict));
    return finish({ verdict, presentedRedirectUri: data.redirectUri, clientId: null, issuerHint: null, request: null, primary: candidate, candidates: [candidate], scopes: null, aud: null });
  }

  // ---- the request: from the URL, or the two fields ----
  let request: ParsedAuthorizationRequest | null = null;
  let clientId: string | null;
  let presented: string | null;
  if (data.mode === 'url') {
    request = parseAuthorizationRequestUrl(data.authorizationUrl);
    clientId = request.clientId;
    presented = request.redirectUri;
    for (const name of request.duplicates) {
      findings.push({
        code: 'DUPLICATE_PARAMETER',
        severity: 'error',
        subject: 'request',
        message: `The parameter ${q(name)} appears more than once; RFC 6749 §3.1 forbids repeating request parameters and servers refuse such requests. The first value was used here.`,
        fix: `Send ${name} once.`,
      });
    }
    if (request.usesRequestObject) {
      findings.push({
        code: 'REQUEST_OBJECT',
        severity: 'info',
        subject: 'request',
        message: 'The request carries a request object (request or request_uri); parameters inside it are not checked here, only those in the query.',
        fix: 'Decode the request object and check its redirect_uri and client_id with the client id + redirect URI form.',
      });
    }
    if (presented === null) {
      findings.push({
        code: 'REDIRECT_URI_MISSING',
        severity: 'error',
        subject: 'redirect_uri',
        message: 'The request has no redirect_uri. SMART App Launch requires it.',
        fix: 'Send redirect_uri with exactly one of the registered redirect URIs.',
      });
    }
  } else {
    clientId = data.clientId;
    presented = data.redirectUri;
  }
  const issuerHint = data.issuer ?? null;

  if (clientId === null || clientId === '') {
    findings.push({
      code: 'CLIENT_ID_MISSING',
      severity: 'error',
      subject: 'client_id',
      message: 'The request has no client_id, so the server cannot tell which app is asking.',
      fix: 'Send the client_id the hospital issued for this app.',
    });
    addRequestChecks(request, null, findings, checks);
    return finish({ verdict: 'client-not-found', presentedRedirectUri: presented, clientId: null, issuerHint, request: summary(request), primary: null, candidates: [], scopes: null, aud: null });
  }

  const rows = await findRegistrationsByClientId(actor, clientId);
  if (rows.length === 0) {
    const near = await findNearClientIds(actor, clientId);
    findings.push({
      code: 'CLIENT_NOT_REGISTERED',
      severity: 'error',
      subject: 'client_id',
      message:
        `No registration in Registrar has the client id ${q(clientId)}.` +
        (near.length > 0 ? ` Registrar has ${near.map(q).join(', ')}, which differ${near.length === 1 ? 's' : ''} only in letter case or surrounding spaces; client ids are compared exactly.` : ''),
      fix:
        near.length > 0
          ? `Use the client id exactly as issued (${q(near[0] ?? '')}).`
          : 'Check the client id for typos. If the registration was made outside Registrar, use the “Pasted registered URIs” form with the redirect URIs the hospital has on file.',
    });
    addRequestChecks(request, null, findings, checks);
    return finish({ verdict: 'client-not-found', presentedRedirectUri: presented, clientId, issuerHint, request: summary(request), primary: null, candidates: [], scopes: null, aud: null });
  }

  const inScopeIds = scopeRegistrations(rows, issuerHint, request?.authorizeEndpoint ?? null, findings);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const candidates: Candidate[] = rows.map((r) => {
    const redirectUris = stringList(r.redirectUris);
    return {
      source: 'registration',
      registration: toCandidateRegistration(r),
      inScope: inScopeIds.has(r.id),
      redirectUris,
      comparison: presented === null ? noPresentedUri(redirectUris) : findClosestRegisteredUri(presented, redirectUris, { budget }),
    };
  });
  const ranked = [...candidates].sort((a, b) => {
    if (a.inScope !== b.inScope) return a.inScope ? -1 : 1;
    if (presented === null) return 0;
    const [va, da] = rankCandidate(presented, a);
    const [vb, db] = rankCandidate(presented, b);
    return va - vb || da - db;
  });
  const primary = ranked[0]?.inScope ? ranked[0] : null;
  const primaryRow = primary?.registration ? byId.get(primary.registration.id) ?? null : null;

  if (primary === null || primaryRow === null) {
    addRequestChecks(request, null, findings, checks);
    return finish({ verdict: 'client-not-found', presentedRedirectUri: presented, clientId, issuerHint, request: summary(request), primary: null, candidates: ranked, scopes: null, aud: null });
  }

  const inScopeCount = candidates.filter((c) => c.inScope).length;
  if (inScopeCount > 1) {
    findings.push({
      code: 'MULTIPLE_REGISTRATIONS',
      severity: 'info',
      subject: 'client_id',
      message: `The client id is registered at ${inScopeCount} issuers: ${ranked
        .filter((c) => c.inScope && c.registration)
        .map((c) => issuerLabel(c.registration!))
        .join('; ')}. The verdict is for the closest match, at ${issuerLabel(primaryRow)}.`,
      fix: 'Give the issuer (or paste the whole authorization URL) to diagnose the request against one issuer.',
    });
  }
  if (primaryRow.status !== 'active') {
    findings.push({
      code: 'REGISTRATION_INACTIVE',
      severity: primaryRow.status === 'deleted' ? 'error' : 'warning',
      subject: 'registration',
      message: `The registration at ${issuerLabel(primaryRow)} has status ${q(primaryRow.status)}.`,
      fix: primaryRow.status === 'deleted' ? 'The client was deleted: register the app again and give the app the new client id.' : 'Open the registration and resolve what it needs before retrying.',
    });
  }

  const epic = looksLikeEpic(primaryRow.fhirBaseUrl);
  let verdict: Verdict = 'no-match';
  if (presented !== null) {
    findings.push(...redirectFindings(presented, primary.comparison, { epic }));
    verdict = verdictOf(presented, primary.comparison);
    checks.push(redirectCheck(presented, primary.comparison, verdict));
  } else {
    checks.push({ subject: 'redirect_uri', label: 'redirect_uri', status: 'fail', presented: null, expected: primary.redirectUris.join('\n') || null, summary: 'Missing.' });
  }

  const ageMs = now.getTime() - primaryRow.updatedAt.getTime();
  if (epic && ageMs < EPIC_SYNC_DELAY_MS) {
    const minutes = Math.max(0, Math.floor(ageMs / 60_000));
    const settled = new Date(primaryRow.updatedAt.getTime() + EPIC_SYNC_DELAY_MS).toISOString().slice(11, 16);
    findings.push({
      code: 'EPIC_SYNC_DELAY',
      severity: 'warning',
      subject: 'registration',
      message: `This registration changed ${minutes === 0 ? 'less than a minute' : `${minutes} minute${minutes === 1 ? '' : 's'}`} ago, and the issuer looks like Epic, which takes about 30 minutes to apply changes. Until then the server may still use the previous redirect URIs and scopes.`,
      fix: `Wait until about ${settled} UTC and try again before changing anything else.`,
    });
  }

  const ctx: CheckContext = {
    registeredResponseTypes: (() => {
      const types = stringList(primaryRow.responseTypes);
      return types.length > 0 ? types : ['code']; // RFC 7591 §2: default response_types is ["code"]
    })(),
    registeredScope: typeof primaryRow.scope === 'string' ? primaryRow.scope : null,
    scopesSupported: primaryRow.scopesSupported,
    capabilities: primaryRow.capabilities,
    fhirBaseUrl: primaryRow.fhirBaseUrl,
    fhirBaseUrlAsEntered: primaryRow.fhirBaseUrl && primaryRow.inputUrl === `${primaryRow.fhirBaseUrl}/` ? primaryRow.inputUrl : null,
  };
  const { scopes, aud } = addRequestChecks(request, ctx, findings, checks);
  return finish({ verdict, presentedRedirectUri: presented, clientId, issuerHint, request: summary(request), primary, candidates: ranked, scopes, aud });
}

function noPresentedUri(redirectUris: string[]): ClosestRegisteredUri {
  return { match: false, candidate: redirectUris[0] ?? null, findings: [], highlight: [], perCandidate: redirectUris.map((uri) => ({ uri, match: false, distance: uri.length })) };
}

function redirectCheck(presented: string, comparison: ClosestRegisteredUri, verdict: Verdict): RequestCheck {
  return {
    subject: 'redirect_uri',
    label: 'redirect_uri',
    status: verdict === 'exact-match' || verdict === 'loopback-port-match' ? 'pass' : 'fail',
    presented,
    expected: comparison.candidate,
    summary: verdict === 'exact-match' ? 'Exact match.' : verdict === 'loopback-port-match' ? 'Matches under the loopback port rule.' : comparison.candidate === null ? 'No redirect URIs registered.' : 'No registered URI matches.',
  };
}

function addRequestChecks(request: ParsedAuthorizationRequest | null, ctx: CheckContext, findings: DiagnosticFinding[], checks: RequestCheck[]) {
  if (request === null) return { scopes: null, aud: null };
  const results = [checkResponseType(request, ctx), checkScopes(request, ctx), checkPkce(request), checkAud(request, ctx?.fhirBaseUrl ?? null, ctx?.fhirBaseUrlAsEntered ?? null), checkState(request)] as const;
  for (const r of results) {
    checks.push(r.check);
    findings.push(...r.findings);
  }
  return { scopes: results[1].comparison, aud: results[3].aud };
}

function summary(request: ParsedAuthorizationRequest | null): Diagnosis['request'] {
  if (request === null) return null;
  const { params: _params, ...rest } = request;
  return rest;
}
