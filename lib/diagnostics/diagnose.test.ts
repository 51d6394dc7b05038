import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, getDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser, uniqueSuffix } from '@/db/factories';
import { issuers, registrations } from '@/db/schema';
import { createDiffBudget, DIFF_BUDGET_CELLS } from '@/lib/redirect-uris';
import { isAppError } from '@/lib/errors';
import { diagnoseAuthorizationRequest } from './diagnose';
import type { Diagnosis, DiagnosisInput } from './types';

type Issuer = { issuerId: string; origin: string; issuerUrl: string; fhirBase: string; authorize: string };

let support: Awaited<ReturnType<typeof insertUser>>;
let manager: Awaited<ReturnType<typeof insertUser>>;
let ops: Awaited<ReturnType<typeof insertUser>>;
let appId: string;
let general: Issuer;
let second: Issuer;
let epic: Issuer;
let clientId: string;
let sharedClientId: string;
const PLANTED_SECRET = `planted-secret-${uniqueSuffix()}`;

const REDIRECTS = ['https://app.example.com/callback', 'http://127.0.0.1/cb', 'http://localhost:8080/cb'];
const SCOPE = 'openid fhirUser launch/patient patient/Observation.rs';

/** An issuer row from the factory, completed with what discovery would have stored. */
async function makeIssuer(opts: { epic?: boolean } = {}): Promise<Issuer> {
  const origin = `https://${opts.epic ? 'epic' : 'ehr'}-${uniqueSuffix()}.hospital.test`;
  const issuerUrl = opts.epic ? `${origin}/interconnect/oauth2` : origin;
  const fhirBase = opts.epic ? `${origin}/interconnect/api/FHIR/R4` : `${origin}/fhir`;
  const authorize = opts.epic ? `${origin}/interconnect/oauth2/authorize` : `${origin}/authorize`;
  const { issuerId } = await insertIssuer({ registrationEndpoint: `${issuerUrl}/register`, issuerUrl });
  const [row] = await getDb().select({ endpoints: issuers.endpoints }).from(issuers).where(eq(issuers.id, issuerId));
  await getDb()
    .update(issuers)
    .set({
      fhirBaseUrl: fhirBase,
      endpoints: { ...row!.endpoints, authorization: { value: authorize, source: 'smart-configuration', conflicts: [] } },
      scopesSupported: ['openid', 'fhirUser', 'launch/patient', 'patient/*.rs', 'offline_access'],
      codeChallengeMethodsSupported: ['S256'],
    })
    .where(eq(issuers.id, issuerId));
  return { issuerId, origin, issuerUrl, fhirBase, authorize };
}

async function insertRegistration(issuer: Issuer, cid: string, registered: Record<string, unknown>, updatedAt?: Date) {
  const [row] = await getDb()
    .insert(registrations)
    .values({
      issuerId: issuer.issuerId,
      appId,
      appVersion: 1,
      environment: 'production',
      clientId: cid,
      authMethod: 'none',
      requestedMetadata: { redirect_uris: REDIRECTS, scope: SCOPE },
      registeredMetadata: { client_id: cid, ...registered },
      secretExpiryKind: 'none',
      ...(updatedAt ? { updatedAt } : {}),
    })
    .returning({ id: registrations.id });
  return row!.id;
}

beforeAll(async () => {
  support = await insertUser({ role: 'support' });
  manager = await insertUser({ role: 'manager' });
  ops = await insertUser({ role: 'ops' });
  ({ appId } = await insertApp({ environments: { production: {} } }));
  general = await makeIssuer();
  second = await makeIssuer();
  epic = await makeIssuer({ epic: true });
  clientId = `client-${uniqueSuffix()}`;
  sharedClientId = `shared-${uniqueSuffix()}`;
  // The server's answer, with secrets that must never come back out of a diagnosis.
  await insertRegistration(general, clientId, {
    redirect_uris: REDIRECTS,
    scope: SCOPE,
    response_types: ['code'],
    client_secret: PLANTED_SECRET,
    registration_access_token: PLANTED_SECRET,
  });
  // One client id at two issuers (each hospital issues its own ids; a collision is possible).
  await insertRegistration(general, sharedClientId, { redirect_uris: ['https://app.example.com/general/callback'], scope: SCOPE });
  await insertRegistration(second, sharedClientId, { redirect_uris: ['https://app.example.com/second/callback'], scope: SCOPE });
});

afterAll(async () => {
  await closeDb();
});

const codes = (d: Diagnosis) => d.findings.map((f) => f.code);
const diagnose = (input: DiagnosisInput, now?: Date) => diagnoseAuthorizationRequest(support.actor, input, now ? { now } : {});

/** A complete, valid SMART authorization request for the general issuer; override to break it. */
function authUrl(overrides: Record<string, string | null> = {}, endpoint = general.authorize, issuer = general): string {
  const params: Record<string, string | null> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: 'https://app.example.com/callback',
    scope: SCOPE,
    state: 'af0ifjsldkj',
    aud: issuer.fhirBase,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...overrides,
  };
  const qs = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== null));
  return `${endpoint}?${qs.toString()}`;
}

describe('redirect URI comparison (client id + redirect URI)', () => {
  it.each([
    { name: 'exact', presented: 'https://app.example.com/callback', verdict: 'exact-match', code: null, closest: 'https://app.example.com/callback' },
    { name: 'trailing slash', presented: 'https://app.example.com/callback/', verdict: 'no-match', code: 'TRAILING_SLASH', closest: 'https://app.example.com/callback' },
    { name: 'host case', presented: 'https://App.Example.com/callback', verdict: 'no-match', code: 'HOST_CASE', closest: 'https://app.example.com/callback' },
    { name: 'default port written out', presented: 'https://app.example.com:443/callback', verdict: 'no-match', code: 'DEFAULT_PORT', closest: 'https://app.example.com/callback' },
    { name: 'loopback IP on another port', presented: 'http://127.0.0.1:51234/cb', verdict: 'loopback-port-match', code: 'LOOPBACK_PORT_ALLOWED', closest: 'http://127.0.0.1/cb' },
    { name: 'localhost on another port is not excepted', presented: 'http://localhost:9999/cb', verdict: 'no-match', code: 'PORT', closest: 'http://localhost:8080/cb' },
    { name: 'path case', presented: 'https://app.example.com/Callback', verdict: 'no-match', code: 'PATH_CASE', closest: 'https://app.example.com/callback' },
  ] as const)('$name → $verdict', async ({ presented, verdict, code, closest }) => {
    const d = await diagnose({ mode: 'client', clientId, redirectUri: presented });
    expect(d.verdict).toBe(verdict);
    expect(d.primary?.comparison.candidate).toBe(closest);
    const redirectCodes = d.findings.filter((f) => f.subject === 'redirect_uri').map((f) => f.code);
    if (code === null) expect(redirectCodes).toEqual([]);
    else expect(redirectCodes).toContain(code);
    if (verdict === 'no-match') {
      for (const f of d.findings.filter((x) => x.subject === 'redirect_uri')) {
        expect(f.severity).toBe('error');
        expect(f.fix).toContain(`'${closest}'`);
      }
    }
    // The highlight rebuilds both raw strings exactly.
    const seg = d.primary!.comparison.highlight;
    expect(seg.filter((s) => s.kind !== 'registered-only').map((s) => s.text).join('')).toBe(presented);
    expect(seg.filter((s) => s.kind !== 'presented-only').map((s) => s.text).join('')).toBe(closest);
    // The other registered URIs are listed with their distance.
    expect(d.primary!.comparison.perCandidate.map((p) => p.uri)).toEqual(REDIRECTS);
  });

  it('marks the trailing slash as presented-only in the highlight', async () => {
    const d = await diagnose({ mode: 'client', clientId, redirectUri: 'https://app.example.com/callback/' });
    expect(d.primary!.comparison.highlight).toEqual([
      { text: 'https://app.example.com/callback', kind: 'same' },
      { text: '/', kind: 'presented-only' },
    ]);
  });

  it('explains that localhost does not get the loopback exception', async () => {
    const d = await diagnose({ mode: 'client', clientId, redirectUri: 'http://localhost:9999/cb' });
    expect(d.findings.find((f) => f.code === 'PORT')?.message).toMatch(/not localhost/);
    expect(codes(d)).not.toContain('LOOPBACK_PORT_ALLOWED');
  });

  it.each([
    { name: 'a trailing space', presented: 'https://app.example.com/callback ', message: 'The presented URI has a space after it; the registered one does not.' },
    { name: 'a leading space', presented: ' https://app.example.com/callback', message: 'The presented URI has a space before it; the registered one does not.' },
    { name: 'a trailing newline', presented: 'https://app.example.com/callback\n', message: 'The presented URI has a newline after it; the registered one does not.' },
  ])('a typed redirect URI with $name is compared as typed: a WHITESPACE no-match, never an exact match', async ({ presented, message }) => {
    const inputs: DiagnosisInput[] = [
      { mode: 'client', clientId, redirectUri: presented },
      { mode: 'pasted', redirectUri: presented, registeredUris: ['https://app.example.com/callback'] },
    ];
    for (const input of inputs) {
      const d = await diagnose(input);
      expect(d.verdict, input.mode).toBe('no-match');
      expect(d.presentedRedirectUri).toBe(presented);
      expect(d.primary?.comparison.candidate).toBe('https://app.example.com/callback');
      expect(d.findings.filter((f) => f.subject === 'redirect_uri')).toEqual([expect.objectContaining({ code: 'WHITESPACE', severity: 'error', message })]);
      expect(d.checks.find((c) => c.subject === 'redirect_uri')).toMatchObject({ status: 'fail', presented });
    }
    // Only whitespace is still no redirect URI at all.
    await expect(diagnose({ mode: 'client', clientId, redirectUri: '  \n' })).rejects.toMatchObject({ code: 'INVALID', message: 'Enter the redirect URI the app sends.', details: { field: 'redirect_uri' } });
  });
});

describe('finding the registration', () => {
  it('unknown client id → client-not-found with CLIENT_NOT_REGISTERED and no candidates', async () => {
    const d = await diagnose({ mode: 'client', clientId: `nobody-${uniqueSuffix()}`, redirectUri: 'https://app.example.com/callback' });
    expect(d.verdict).toBe('client-not-found');
    expect(codes(d)).toEqual(['CLIENT_NOT_REGISTERED']);
    expect(d.candidates).toEqual([]);
  });

  it('names a client id that differs only in letter case', async () => {
    const d = await diagnose({ mode: 'client', clientId: clientId.toUpperCase(), redirectUri: 'https://app.example.com/callback' });
    expect(d.verdict).toBe('client-not-found');
    expect(d.findings[0]?.message).toContain(`'${clientId}'`);
  });

  it('a client id at two issuers: without an issuer both are candidates and the closest wins', async () => {
    const d = await diagnose({ mode: 'client', clientId: sharedClientId, redirectUri: 'https://app.example.com/second/callback' });
    expect(d.verdict).toBe('exact-match');
    expect(d.candidates).toHaveLength(2);
    expect(d.candidates.every((c) => c.inScope)).toBe(true);
    expect(d.primary?.registration?.issuerId).toBe(second.issuerId);
    expect(codes(d)).toContain('MULTIPLE_REGISTRATIONS');
  });

  it.each([
    { by: 'issuer URL', issuer: () => general.issuerUrl },
    { by: 'FHIR base URL', issuer: () => general.fhirBase },
    { by: 'issuer URL with a trailing slash', issuer: () => `${general.issuerUrl}/` },
  ])('a client id at two issuers, narrowed by $by, is judged at that issuer only', async ({ issuer }) => {
    const d = await diagnose({ mode: 'client', clientId: sharedClientId, redirectUri: 'https://app.example.com/second/callback', issuer: issuer() });
    expect(d.primary?.registration?.issuerId).toBe(general.issuerId);
    expect(d.verdict).toBe('no-match');
    expect(d.primary?.comparison.candidate).toBe('https://app.example.com/general/callback');
    expect(codes(d)).not.toContain('MULTIPLE_REGISTRATIONS');
    expect(d.candidates.find((c) => c.registration?.issuerId === second.issuerId)?.inScope).toBe(false);
  });

  it('narrows by the authorize endpoint of a pasted authorization URL', async () => {
    const url = authUrl({ client_id: sharedClientId, redirect_uri: 'https://app.example.com/general/callback' }, second.authorize, second);
    const d = await diagnose({ mode: 'url', authorizationUrl: url });
    expect(d.primary?.registration?.issuerId).toBe(second.issuerId);
    expect(d.verdict).toBe('no-match');
    expect(codes(d)).toContain('PATH');
  });

  it('an issuer where the client is not registered → CLIENT_NOT_AT_ISSUER, others listed out of scope', async () => {
    const d = await diagnose({ mode: 'client', clientId, redirectUri: 'https://app.example.com/callback', issuer: epic.issuerUrl });
    expect(d.verdict).toBe('client-not-found');
    expect(codes(d)).toContain('CLIENT_NOT_AT_ISSUER');
    expect(d.primary).toBeNull();
    expect(d.candidates.map((c) => c.inScope)).toEqual([false]);
  });

  it('warns when the authorize endpoint is not the one discovered for the client’s issuer', async () => {
    const d = await diagnose({ mode: 'url', authorizationUrl: authUrl({}, `${epic.origin}/authorize`) });
    expect(codes(d)).toContain('AUTHORIZE_ENDPOINT_UNKNOWN');
    expect(d.verdict).toBe('exact-match');
  });
});

describe('pasted registered URIs (registration not in Registrar)', () => {
  it.each([
    { name: 'one per line, exact', registered: 'https://a.example.com/cb\nhttps://app.example.com/callback\n', presented: 'https://app.example.com/callback', verdict: 'exact-match', code: null },
    { name: 'one per line, trailing slash', registered: 'https://app.example.com/callback\r\n\r\n', presented: 'https://app.example.com/callback/', verdict: 'no-match', code: 'TRAILING_SLASH' },
    { name: 'JSON array keeps a stray leading space', registered: '[" https://app.example.com/callback"]', presented: 'https://app.example.com/callback', verdict: 'no-match', code: 'WHITESPACE' },
    { name: 'loopback IPv6', registered: ['http://[::1]/cb'], presented: 'http://[::1]:7777/cb', verdict: 'loopback-port-match', code: 'LOOPBACK_PORT_ALLOWED' },
  ] as const)('$name → $verdict', async ({ registered, presented, verdict, code }) => {
    const d = await diagnose({ mode: 'pasted', redirectUri: presented, registeredUris: typeof registered === 'string' ? registered : [...registered] });
    expect(d.verdict).toBe(verdict);
    expect(d.primary?.source).toBe('pasted');
    expect(d.primary?.registration).toBeNull();
    if (code === null) expect(codes(d)).toEqual([]);
    else expect(codes(d)).toContain(code);
  });

  it('refuses an empty list', async () => {
    await expect(diagnose({ mode: 'pasted', redirectUri: 'https://app.example.com/callback', registeredUris: '\n  \n' })).rejects.toMatchObject({ code: 'INVALID', details: { field: 'registered' } });
  });
});

describe('bounded work', () => {
  it('a client id registered at several hospitals with long redirect URIs shares one budget for the whole diagnosis', async () => {
    // Letters that differ from the presented URI almost everywhere: every distance is a full-size edit distance.
    const letters = (seed: number, n: number) => {
      let x = seed * 2_654_435_761 + 1;
      return Array.from({ length: n }, () => String.fromCharCode(97 + ((x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) % 26))).join('');
    };
    const cid = `long-${uniqueSuffix()}`;
    for (let h = 0; h < 3; h++) {
      const issuer = await makeIssuer();
      await insertRegistration(issuer, cid, { redirect_uris: Array.from({ length: 20 }, (_, i) => `https://app.example.com/${letters(h * 20 + i + 1, 1_900)}`) });
    }
    const input = { mode: 'client' as const, clientId: cid, redirectUri: `https://app.example.com/${letters(0, 1_900)}` };
    const unlimited = createDiffBudget(Number.POSITIVE_INFINITY);
    await diagnoseAuthorizationRequest(support.actor, input, { budget: unlimited });
    // Bounded per registration only, the three would spend about three budgets.
    expect(unlimited.used).toBeGreaterThan(2 * DIFF_BUDGET_CELLS);
    const budget = createDiffBudget();
    const d = await diagnoseAuthorizationRequest(support.actor, input, { budget });
    expect(budget.used).toBeLessThanOrEqual(DIFF_BUDGET_CELLS);
    // It was this one budget that stopped the work, and the partial results say so.
    expect(budget.refused).toBeGreaterThan(0);
    expect(d.candidates.some((c) => c.comparison.limited)).toBe(true);
    expect(d.candidates).toHaveLength(3);
    expect(d.verdict).not.toBe('exact-match');
  });
});

describe('authorization request checks', () => {
  it('a correct request passes every check and says exact match', async () => {
    const d = await diagnose({ mode: 'url', authorizationUrl: authUrl() });
    expect(d.verdict).toBe('exact-match');
    expect(d.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(d.checks.map((c) => [c.subject, c.status])).toEqual([
      ['redirect_uri', 'pass'],
      ['response_type', 'pass'],
      ['scope', 'pass'],
      ['pkce', 'pass'],
      ['aud', 'pass'],
      ['state', 'pass'],
    ]);
  });

  type BrokenCase = { name: string; overrides: Record<string, string | null>; code: string; subject: string };
  it.each<BrokenCase>([
    { name: 'missing S256 (no PKCE)', overrides: { code_challenge: null, code_challenge_method: null }, code: 'PKCE_MISSING', subject: 'pkce' },
    { name: 'challenge without a method (plain by default)', overrides: { code_challenge_method: null }, code: 'PKCE_MISSING', subject: 'pkce' },
    { name: 'plain', overrides: { code_challenge_method: 'plain' }, code: 'PKCE_PLAIN', subject: 'pkce' },
    { name: 'lower-case s256', overrides: { code_challenge_method: 's256' }, code: 'PKCE_METHOD_UNKNOWN', subject: 'pkce' },
    { name: 'aud with a trailing slash', overrides: { aud: 'FHIR_SLASH' }, code: 'AUD_MISMATCH', subject: 'aud' },
    { name: 'aud in another letter case', overrides: { aud: 'FHIR_UPPER' }, code: 'AUD_MISMATCH', subject: 'aud' },
    { name: 'aud missing', overrides: { aud: null }, code: 'AUD_MISSING', subject: 'aud' },
    { name: 'state missing', overrides: { state: null }, code: 'STATE_MISSING', subject: 'state' },
    { name: 'response_type token', overrides: { response_type: 'token' }, code: 'RESPONSE_TYPE_NOT_REGISTERED', subject: 'response_type' },
    { name: 'response_type missing', overrides: { response_type: null }, code: 'RESPONSE_TYPE_MISSING', subject: 'response_type' },
    { name: 'scope missing', overrides: { scope: null }, code: 'SCOPE_MISSING', subject: 'scope' },
  ])('$name → $code', async ({ overrides, code, subject }) => {
    const o: Record<string, string | null> = { ...overrides };
    if (o.aud === 'FHIR_SLASH') o.aud = `${general.fhirBase}/`;
    if (o.aud === 'FHIR_UPPER') o.aud = general.fhirBase.replace('/fhir', '/FHIR');
    const d = await diagnose({ mode: 'url', authorizationUrl: authUrl(o) });
    const finding = d.findings.find((f) => f.code === code);
    expect(finding).toMatchObject({ severity: 'error', subject });
    expect(finding?.fix.length).toBeGreaterThan(10);
    expect(d.checks.find((c) => c.subject === subject)?.status).toBe('fail');
    // Only the broken parameter is reported; the redirect URI still matches.
    expect(d.verdict).toBe('exact-match');
    expect(d.findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual([code]);
  });

  it('aud with a trailing slash passes when the FHIR base was entered that way (the hospital publishes it so)', async () => {
    const slashed = await makeIssuer();
    await getDb().update(issuers).set({ inputUrl: `${slashed.fhirBase}/` }).where(eq(issuers.id, slashed.issuerId));
    const cid = `slash-${uniqueSuffix()}`;
    await insertRegistration(slashed, cid, { redirect_uris: REDIRECTS, scope: SCOPE, response_types: ['code'] });
    for (const aud of [`${slashed.fhirBase}/`, slashed.fhirBase]) {
      const d = await diagnose({ mode: 'url', authorizationUrl: authUrl({ client_id: cid, aud }, slashed.authorize, slashed) });
      expect(d.checks.find((c) => c.subject === 'aud')?.status, aud).toBe('pass');
      expect(codes(d)).not.toContain('AUD_MISMATCH');
    }
  });

  it('scope lost and gained against the registered scope, unsupported against the issuer', async () => {
    const d = await diagnose({ mode: 'url', authorizationUrl: authUrl({ scope: 'openid patient/Observation.rs patient/Condition.rs user/Practitioner.r' }) });
    expect(codes(d)).toEqual(expect.arrayContaining(['SCOPE_NOT_REGISTERED', 'SCOPE_NOT_REQUESTED', 'SCOPE_NOT_SUPPORTED']));
    expect(d.scopes?.diff?.lost).toEqual(['patient/Condition.r', 'patient/Condition.s', 'user/Practitioner.r']);
    expect(d.scopes?.diff?.gained).toEqual(['fhirUser', 'launch/patient']);
    expect(d.scopes?.diff?.unsupported).toEqual(['user/Practitioner.r']);
    expect(d.scopes?.granted).toBe(SCOPE);
    expect(d.checks.find((c) => c.subject === 'scope')?.status).toBe('warn');
  });

  it('v1 and v2 spellings of the same scope are equivalent', async () => {
    const d = await diagnose({ mode: 'url', authorizationUrl: authUrl({ scope: 'openid fhirUser launch/patient patient/Observation.read' }) });
    expect(d.scopes?.diff?.equivalent).toBe(true);
    expect(d.findings.filter((f) => f.subject === 'scope')).toEqual([]);
  });

  describe('scope syntax against the issuer’s SMART capabilities (permission-v1 / permission-v2)', () => {
    /** An issuer whose discovery advertised these capabilities, with a registration granting `registered`. */
    async function issuerWith(capabilities: string[], scopesSupported: string[], registered: string) {
      const issuer = await makeIssuer();
      await getDb().update(issuers).set({ capabilities, scopesSupported }).where(eq(issuers.id, issuer.issuerId));
      const cid = `scopes-${uniqueSuffix()}`;
      await insertRegistration(issuer, cid, { redirect_uris: REDIRECTS, scope: registered, response_types: ['code'] });
      return (scope: string) => diagnose({ mode: 'url', authorizationUrl: authUrl({ client_id: cid, scope }, issuer.authorize, issuer) });
    }

    it('a v2 scope at a v1-only server (Epic) warns SCOPE_VERSION_UNSUPPORTED with the v1 spelling, although its atoms are registered; not when the server advertises both or neither', async () => {
      const request = await issuerWith(['launch-ehr', 'permission-v1'], ['patient/*.read'], 'patient/Observation.read');
      const d = await request('patient/Observation.rs');
      expect(d.scopes?.diff?.equivalent).toBe(true);
      const scopeFindings = d.findings.filter((f) => f.subject === 'scope');
      expect(scopeFindings.map((f) => [f.code, f.severity])).toEqual([['SCOPE_VERSION_UNSUPPORTED', 'warning']]);
      expect(scopeFindings[0]?.message).toContain("The request writes 'patient/Observation.rs' in SMART v2 syntax, but the server advertises only permission-v1 in its capabilities, not permission-v2.");
      expect(scopeFindings[0]?.message).toContain("In v1 syntax: 'patient/Observation.rs' is 'patient/Observation.read'.");
      const check = d.checks.find((c) => c.subject === 'scope');
      expect(check?.status).toBe('warn');
      expect(check?.summary).toBe('Every requested scope is registered. Some requested scopes are written in SMART v2 syntax, which the server does not advertise.');

      // Both versions advertised, or neither (unknown): nothing to say, whichever spelling is used.
      for (const capabilities of [['permission-v1', 'permission-v2'], ['launch-ehr']]) {
        const other = await issuerWith(capabilities, ['patient/*.read'], 'patient/Observation.read');
        for (const scope of ['patient/Observation.rs', 'patient/Observation.read']) {
          const quiet = await other(scope);
          expect(quiet.findings.filter((f) => f.subject === 'scope'), `${capabilities.join(' ')}: ${scope}`).toEqual([]);
          expect(quiet.checks.find((c) => c.subject === 'scope')).toMatchObject({ status: 'pass', summary: 'Every requested scope is registered.' });
        }
      }
    });

    it('a v2 scope v1 cannot say exactly names the nearest v1 scope and says it grants more', async () => {
      const request = await issuerWith(['permission-v1'], [], 'patient/Observation.read');
      const d = await request('patient/Observation.r');
      expect(d.findings.find((f) => f.code === 'SCOPE_VERSION_UNSUPPORTED')?.message).toContain("'patient/Observation.r' has no exact v1 spelling; the nearest is 'patient/Observation.read', which grants more.");
    });

    it('a v1 scope at a v2-only server warns the other way round', async () => {
      const request = await issuerWith(['permission-v2'], [], 'patient/Observation.rs');
      const d = await request('patient/Observation.read');
      const finding = d.findings.find((f) => f.code === 'SCOPE_VERSION_UNSUPPORTED');
      expect(finding?.message).toContain("in SMART v1 syntax, but the server advertises only permission-v2 in its capabilities, not permission-v1.");
      expect(finding?.message).toContain("'patient/Observation.read' is 'patient/Observation.rs'");
      expect(finding?.fix).toMatch(/^Request the v2 spelling above/);
    });
  });

  it('reports a repeated parameter', async () => {
    const d = await diagnose({ mode: 'url', authorizationUrl: `${authUrl()}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}` });
    expect(codes(d)).toContain('DUPLICATE_PARAMETER');
    expect(d.presentedRedirectUri).toBe('https://app.example.com/callback');
  });

  it('a double-encoded redirect_uri is compared as the server decodes it', async () => {
    const once = encodeURIComponent('https://app.example.com/callback');
    const url = authUrl().replace(`redirect_uri=${once}`, `redirect_uri=${encodeURIComponent(once)}`);
    const d = await diagnose({ mode: 'url', authorizationUrl: url });
    expect(d.presentedRedirectUri).toBe(once);
    expect(d.verdict).toBe('no-match');
  });

  it('a missing redirect_uri is a finding, never an exact match', async () => {
    const d = await diagnose({ mode: 'url', authorizationUrl: authUrl({ redirect_uri: null }) });
    expect(d.verdict).toBe('no-match');
    expect(codes(d)).toContain('REDIRECT_URI_MISSING');
  });

  it('refuses something that is not an authorization URL, naming the field', async () => {
    for (const bad of ['client_id=abc', 'https://ehr.example.com/authorize']) {
      await expect(diagnose({ mode: 'url', authorizationUrl: bad })).rejects.toMatchObject({ code: 'INVALID', details: { field: 'url' } });
    }
  });
});

describe('Epic sync delay', () => {
  it.each([
    { name: 'Epic, changed 10 minutes ago → note', issuer: () => epic, ageMin: 10, note: true },
    { name: 'Epic, changed 45 minutes ago → no note', issuer: () => epic, ageMin: 45, note: false },
    { name: 'not Epic, changed 10 minutes ago → no note', issuer: () => second, ageMin: 10, note: false },
  ])('$name', async ({ issuer, ageMin, note }) => {
    const now = new Date();
    const cid = `epic-${uniqueSuffix()}`;
    await insertRegistration(issuer(), cid, { redirect_uris: ['https://app.example.com/callback'] }, new Date(now.getTime() - ageMin * 60_000));
    const d = await diagnose({ mode: 'client', clientId: cid, redirectUri: 'https://app.example.com/callback/' }, now);
    expect(codes(d).includes('EPIC_SYNC_DELAY')).toBe(note);
    if (note) {
      expect(d.findings.find((f) => f.code === 'EPIC_SYNC_DELAY')?.message).toContain('10 minutes ago');
      expect(d.findings.find((f) => f.code === 'TRAILING_SLASH')?.fix).toContain('about 30 minutes');
    }
  });
});

describe('permissions and secrets', () => {
  it('a manager is refused (FORBIDDEN) before anything is read', async () => {
    const error = await diagnoseAuthorizationRequest(manager.actor, { mode: 'client', clientId, redirectUri: 'https://app.example.com/callback' }).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('FORBIDDEN');
    await expect(diagnoseAuthorizationRequest(manager.actor, { mode: 'pasted', redirectUri: 'x', registeredUris: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('support and ops may run it', async () => {
    for (const who of [support, ops]) {
      const d = await diagnoseAuthorizationRequest(who.actor, { mode: 'client', clientId, redirectUri: 'https://app.example.com/callback' });
      expect(d.verdict).toBe('exact-match');
    }
  });

  it('never returns a secret from the registered metadata', async () => {
    const d = await diagnose({ mode: 'url', authorizationUrl: authUrl({ redirect_uri: 'https://app.example.com/callback/' }) });
    expect(JSON.stringify(d)).not.toContain(PLANTED_SECRET);
    expect(JSON.stringify(d)).not.toContain('af0ifjsldkj'); // the state value is not echoed either
  });
});

describe('the loopback port', () => {
  it('an invalid loopback port is no match (PORT), not "Nothing to change"', async () => {
    for (const presented of ['http://127.0.0.1:abc/cb', 'http://127.0.0.1:99999/cb']) {
      const d = await diagnose({ mode: 'pasted', redirectUri: presented, registeredUris: 'http://127.0.0.1:8080/cb' });
      expect(d.verdict).toBe('no-match');
      expect(codes(d)).toEqual(['PORT']);
      expect(d.findings[0]?.message).toMatch(/is not a valid port number/);
      expect(d.checks.find((c) => c.subject === 'redirect_uri')?.status).toBe('fail');
    }
    const valid = await diagnose({ mode: 'pasted', redirectUri: 'http://127.0.0.1:65535/cb', registeredUris: 'http://127.0.0.1:8080/cb' });
    expect(valid.verdict).toBe('loopback-port-match');
  });
});

describe('redirect URI diagnosis limits', () => {
  it('refuses more than 50 pasted URIs, or one longer than 2,048 characters, naming the limit', async () => {
    const many = Array.from({ length: 51 }, (_, i) => `https://app.example.com/cb${i}`).join('\n');
    await expect(diagnose({ mode: 'pasted', redirectUri: 'https://app.example.com/cb', registeredUris: many })).rejects.toMatchObject({
      code: 'INVALID',
      message: 'Paste at most 50 registered redirect URIs (there are 51).',
      details: { field: 'registered' },
    });
    await expect(diagnose({ mode: 'pasted', redirectUri: 'https://app.example.com/cb', registeredUris: ['https://app.example.com/cb', `https://app.example.com/${'x'.repeat(2030)}`] })).rejects.toMatchObject({
      code: 'INVALID',
      message: 'Registered redirect URI 2 is too long (2,048 characters at most).',
      details: { field: 'registered' },
    });
    await expect(diagnose({ mode: 'client', clientId, redirectUri: `https://app.example.com/${'x'.repeat(2030)}` })).rejects.toMatchObject({
      code: 'INVALID',
      message: 'That redirect URI is too long (2,048 characters at most).',
      details: { field: 'redirect_uri' },
    });
  });
});
