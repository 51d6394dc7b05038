// Types only: the diagnosis result is plain, serialisable data (dates as ISO strings) so pages and
// client components can take it as props. Type imports of this file are erased from bundles.
import type { ClosestRegisteredUri, HighlightSegment, MismatchCode } from '@/lib/redirect-uris';
import type { ScopeDiff } from '@/lib/smart';

export const DIAGNOSIS_MODES = ['url', 'client', 'pasted'] as const;
export type DiagnosisMode = (typeof DIAGNOSIS_MODES)[number];

/**
 * - `url`: a whole authorization request URL as the app sent it (issuer optional, to narrow).
 * - `client`: a client id and the redirect URI the app sends (issuer optional).
 * - `pasted`: the redirect URI the app sends and the registered ones, pasted by hand (a
 *   registration Registrar does not hold). One URI per line, or a JSON array of strings.
 */
export type DiagnosisInput =
  | { mode: 'url'; authorizationUrl: string; issuer?: string | null }
  | { mode: 'client'; clientId: string; redirectUri: string; issuer?: string | null }
  | { mode: 'pasted'; redirectUri: string; registeredUris: string | string[] };

/** exact-match: byte for byte; loopback-port-match: RFC 8252 §7.3; client-not-found: nothing to compare with. */
export type Verdict = 'exact-match' | 'loopback-port-match' | 'no-match' | 'client-not-found';

export type FindingSeverity = 'error' | 'warning' | 'info';

export type DiagnosticCode =
  | MismatchCode
  | 'UNPARSEABLE_REQUEST'
  | 'CLIENT_ID_MISSING'
  | 'CLIENT_NOT_REGISTERED'
  | 'CLIENT_NOT_AT_ISSUER'
  | 'MULTIPLE_REGISTRATIONS'
  | 'AUTHORIZE_ENDPOINT_UNKNOWN'
  | 'REGISTRATION_INACTIVE'
  | 'REDIRECT_URI_MISSING'
  | 'DUPLICATE_PARAMETER'
  | 'REQUEST_OBJECT'
  | 'RESPONSE_TYPE_MISSING'
  | 'RESPONSE_TYPE_NOT_REGISTERED'
  | 'SCOPE_MISSING'
  | 'SCOPE_NOT_REGISTERED'
  | 'SCOPE_NOT_REQUESTED'
  | 'SCOPE_NOT_SUPPORTED'
  | 'SCOPE_VERSION_UNSUPPORTED'
  | 'SCOPE_UNRECOGNIZED'
  | 'SCOPE_NOT_RECORDED'
  | 'PKCE_MISSING'
  | 'PKCE_PLAIN'
  | 'PKCE_METHOD_UNKNOWN'
  | 'PKCE_CHALLENGE_MISSING'
  | 'AUD_MISSING'
  | 'AUD_MISMATCH'
  | 'STATE_MISSING'
  | 'EPIC_SYNC_DELAY';

export type FindingSubject = 'client_id' | 'redirect_uri' | 'response_type' | 'scope' | 'pkce' | 'aud' | 'state' | 'registration' | 'request';

export type DiagnosticFinding = {
  code: DiagnosticCode;
  severity: FindingSeverity;
  subject: FindingSubject;
  /** What is wrong, in words a support person can read out to the app's developer. */
  message: string;
  /** What to do about it. */
  fix: string;
};

/** The registration columns a diagnosis may show: never a secret, never the whole metadata. */
export type CandidateRegistration = {
  id: string;
  clientId: string;
  environment: string;
  status: string;
  updatedAt: string;
  issuerId: string;
  issuerUrl: string | null;
  fhirBaseUrl: string | null;
  authorizationEndpoint: string | null;
  healthSystemName: string;
};

export type Candidate = {
  /** `pasted`: the URIs typed into the form, no registration behind them. */
  source: 'registration' | 'pasted';
  registration: CandidateRegistration | null;
  /** Within the issuer the request targets (issuer given, or authorize endpoint matched). */
  inScope: boolean;
  redirectUris: string[];
  comparison: ClosestRegisteredUri;
};

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'not-checked';

export type RequestCheck = {
  subject: Exclude<FindingSubject, 'registration' | 'request'>;
  label: string;
  status: CheckStatus;
  /** The value as presented (never the state value itself, only whether it is there). */
  presented: string | null;
  /** What it was checked against. */
  expected: string | null;
  summary: string;
};

/** The parameters of an authorization request, decoded as the server decodes them. */
export type AuthorizationRequestSummary = {
  authorizeEndpoint: string;
  clientId: string | null;
  redirectUri: string | null;
  responseType: string | null;
  scope: string | null;
  aud: string | null;
  hasState: boolean;
  hasCodeChallenge: boolean;
  codeChallengeMethod: string | null;
  duplicates: string[];
  usesRequestObject: boolean;
};

export type ScopeComparison = {
  requested: string;
  granted: string | null;
  supported: string[];
  diff: ScopeDiff | null;
};

export type Diagnosis = {
  mode: DiagnosisMode;
  verdict: Verdict;
  presentedRedirectUri: string | null;
  clientId: string | null;
  issuerHint: string | null;
  request: AuthorizationRequestSummary | null;
  /** The candidate the verdict is about (best in scope), or null. */
  primary: Candidate | null;
  /** Every registration considered (the primary first), or the pasted list. */
  candidates: Candidate[];
  /** Severity order (errors first), stable within a severity. */
  findings: DiagnosticFinding[];
  checks: RequestCheck[];
  scopes: ScopeComparison | null;
  aud: { presented: string; expected: string; highlight: HighlightSegment[] } | null;
  diagnosedAt: string;
};
