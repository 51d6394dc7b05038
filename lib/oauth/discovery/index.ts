import 'server-only';

import { AppError, type ErrorCode } from '@/lib/errors';

import { createLimiter, fetchDocument, type FetchedDocument } from './fetch-document';
import { checkServer, mergeDocuments } from './merge';
import {
  DOCUMENT_LABEL,
  isJsonObject,
  normalizeCapabilityStatement,
  normalizeIssuerDocument,
  normalizeSmartConfiguration,
  normalizeUdap,
  type NormalizedDocument,
} from './parse';
import type {
  Attempt,
  DiscoverOptions,
  DiscoveryResult,
  DiscoveryWarning,
  DocumentKind,
  UdapInfo,
} from './types';
import { verifyUdapSignedMetadata } from './udap';
import {
  capabilityStatementUrl,
  epicOauthBase,
  oauthAuthorizationServerUrl,
  openidConfigurationUrl,
  parseDiscoveryInput,
  smartConfigurationUrl,
  stripOneTrailingSlash,
  udapUrl,
} from './urls';
import { warning } from './warnings';

export { describePrecedence, MERGE_PRECEDENCE } from './precedence';
export { diffDiscoveries } from './diff';
export { WARNING_HELP } from './warnings';
export { DOCUMENT_KINDS, ENDPOINT_NAMES, WARNING_CODES } from './types';
export type {
  Attempt,
  DiscoverOptions,
  DiscoveryDiffEntry,
  DiscoveryFailure,
  DiscoveryResult,
  DiscoveryWarning,
  DocumentKind,
  EndpointName,
  PrecedenceField,
  SourcedValue,
  UdapInfo,
  WarningCode,
  WarningSeverity,
} from './types';

/** Input errors that no retry can fix; everything else is a per-document warning. */
const FATAL_INPUT_CODES: ReadonlySet<ErrorCode> = new Set(['INVALID_URL', 'INSECURE_SCHEME', 'BLOCKED_ADDRESS']);

const DEFAULT_CONCURRENCY = 4;

type TaskResult = {
  attempt: Attempt;
  warnings: DiscoveryWarning[];
  /** Accepted and merged. */
  doc: NormalizedDocument | null;
  /** The parsed JSON when the attempt outcome is `found`. */
  raw?: unknown;
  udap?: UdapInfo;
  fatal: AppError | null;
  issuerMismatch: boolean;
};

function validateEpicClientId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const id = value.trim();
  if (id === '') return undefined;
  if (id.length > 200 || !/^[\x21-\x7e]+$/.test(id)) {
    throw new AppError('INVALID', 'The Epic client ID must be printable ASCII without spaces (at most 200 characters).');
  }
  return id;
}

/**
 * Discovers an authorization server from an issuer or FHIR base URL: SMART configuration,
 * CapabilityStatement (SMART v1 oauth-uris), OpenID Connect / RFC 8414 metadata (issuer checked
 * byte for byte) and UDAP, merged by MERGE_PRECEDENCE. Per-document problems are warnings; it
 * throws only for input that can never work (INVALID_URL, INSECURE_SCHEME, BLOCKED_ADDRESS).
 */
export async function discover(input: string, opts: DiscoverOptions = {}): Promise<DiscoveryResult> {
  const parsed = parseDiscoveryInput(input);
  const epicClientId = validateEpicClientId(opts.epicClientId);
  const init = opts.fetchInit ?? {};
  const limit = createLimiter(opts.concurrency ?? DEFAULT_CONCURRENCY);

  const headersFor = (kind: DocumentKind): Record<string, string> => ({
    accept: kind === 'capability-statement' ? 'application/fhir+json' : 'application/json',
    ...(epicClientId ? { 'epic-client-id': epicClientId } : {}),
  });

  const base = parsed.mode === 'issuer-document' ? null : parsed.base;

  /** Fetches one document and decides whether it is accepted; never throws. */
  const runTask = (kind: DocumentKind, url: string, expectedIssuer: string | readonly string[] | null = null): Promise<TaskResult> =>
    limit(async () => {
      const fetched: FetchedDocument = await fetchDocument(kind, url, headersFor(kind), init);
      const result: TaskResult = { attempt: fetched.attempt, warnings: [], doc: null, fatal: null, issuerMismatch: false };
      if (!fetched.ok) {
        if (fetched.warning) result.warnings.push(fetched.warning);
        result.fatal = fetched.error && FATAL_INPUT_CODES.has(fetched.error.code) ? fetched.error : null;
        if (kind === 'udap') {
          result.udap = {
            present: false,
            signedMetadataPresent: false,
            signatureVerified: null,
            claims: null,
            error: fetched.attempt.outcome === 'not-found' ? null : fetched.attempt.message,
          };
        }
        return result;
      }

      const reject = (w: DiscoveryWarning) => {
        result.warnings.push(w);
        result.attempt = { ...result.attempt, outcome: 'error', errorCode: w.code, message: w.message };
        result.issuerMismatch = w.code === 'ISSUER_MISMATCH';
      };
      const accept = (doc: NormalizedDocument | null) => {
        result.doc = doc;
        result.raw = fetched.json;
      };

      switch (kind) {
        case 'smart-configuration': {
          const n = normalizeSmartConfiguration(fetched.json, url, base ?? url, result.warnings);
          if (n.ok) accept(n.doc);
          else reject(n.warning);
          break;
        }
        case 'capability-statement': {
          const n = normalizeCapabilityStatement(fetched.json, url, base ?? url, result.warnings);
          if (n.ok) accept(n.doc);
          else reject(n.warning);
          break;
        }
        case 'openid-configuration':
        case 'oauth-authorization-server': {
          const n = normalizeIssuerDocument(kind, fetched.json, url, expectedIssuer, result.warnings);
          if (n.ok) accept(n.doc);
          else reject(n.warning);
          break;
        }
        case 'udap': {
          await processUdap(fetched.json, url, base ?? url, parsed.input, result, accept, reject);
          break;
        }
      }
      return result;
    });

  const results: TaskResult[] = [];
  const warnings: DiscoveryWarning[] = [];
  const triedIssuers = new Set<string>();
  const issuerAccepted = () =>
    results.some((r) => r.doc && (r.doc.kind === 'openid-configuration' || r.doc.kind === 'oauth-authorization-server'));

  const issuerTasks = (candidate: string): Array<Promise<TaskResult>> => {
    triedIssuers.add(candidate);
    const tasks = [runTask('openid-configuration', openidConfigurationUrl(candidate), candidate)];
    const rfc8414 = oauthAuthorizationServerUrl(candidate);
    if (rfc8414) tasks.push(runTask('oauth-authorization-server', rfc8414, candidate));
    return tasks;
  };

  if (parsed.mode === 'issuer-document') {
    warnings.push(
      warning(
        'WELL_KNOWN_INPUT',
        `${parsed.input} is a discovery document URL; it was read as the ${DOCUMENT_LABEL[parsed.kind]} itself, and its issuer had to be the one this URL belongs to (${parsed.issuers.map((i) => `"${i}"`).join(' or ')}). Enter the issuer next time.`,
        { severity: 'info' },
      ),
    );
    results.push(await runTask(parsed.kind, parsed.input, parsed.issuers));
  } else {
    if (parsed.mode === 'base-from-well-known') {
      warnings.push(
        warning(
          'WELL_KNOWN_INPUT',
          `${parsed.input} is a discovery document URL; it was read as the ${DOCUMENT_LABEL[parsed.kind]} itself, and ${parsed.base} was used as the FHIR base. Enter the FHIR base or the issuer next time.`,
          { severity: 'info' },
        ),
      );
    }
    const issuerCandidate = parsed.mode === 'base' ? parsed.input : parsed.base;
    // Independent documents in parallel (bounded): SMART, CapabilityStatement, UDAP, and the input as issuer.
    const firstWave = [
      runTask('smart-configuration', parsed.mode === 'base-from-well-known' && parsed.kind === 'smart-configuration' ? parsed.input : smartConfigurationUrl(parsed.base)),
      runTask('capability-statement', capabilityStatementUrl(parsed.base)),
      runTask('udap', parsed.mode === 'base-from-well-known' && parsed.kind === 'udap' ? parsed.input : udapUrl(parsed.base)),
      ...issuerTasks(issuerCandidate),
    ];
    results.push(...(await Promise.all(firstWave)));
  }

  // The first request reached the input's own origin: if policy or syntax refused it, nothing can work.
  const fatal = results[0]?.fatal;
  if (fatal) throw fatal;

  // Further issuer candidates need the SMART document (its issuer) or Epic's endpoints; stop at the first accepted.
  if (parsed.mode !== 'issuer-document' && !issuerAccepted()) {
    const smart = results.find((r) => r.doc?.kind === 'smart-configuration')?.doc ?? null;
    const capability = results.find((r) => r.doc?.kind === 'capability-statement')?.doc ?? null;
    const candidates = [
      smart?.issuer,
      ...[smart, capability].flatMap((doc) => [doc?.endpoints.token, doc?.endpoints.authorization]).map((e) => (e ? epicOauthBase(e) : null)),
    ].filter((c): c is string => typeof c === 'string' && URL.canParse(c));
    for (const candidate of new Set(candidates)) {
      if (triedIssuers.has(candidate)) continue;
      results.push(...(await Promise.all(issuerTasks(candidate))));
      if (issuerAccepted()) break;
    }
  }

  return assemble(parsed.input, parsed.mode === 'issuer-document' ? null : parsed.base, results, warnings);
}

async function processUdap(
  json: unknown,
  url: string,
  base: string,
  input: string,
  result: TaskResult,
  accept: (doc: NormalizedDocument | null) => void,
  reject: (w: DiscoveryWarning) => void,
): Promise<void> {
  const info: UdapInfo = { present: false, signedMetadataPresent: false, signatureVerified: null, claims: null, error: null };
  result.udap = info;
  if (!isJsonObject(json)) {
    reject(warning('DOCUMENT_WRONG_SHAPE', `UDAP metadata at ${url} is not a JSON object; it was ignored.`, { document: 'udap' }));
    info.error = 'The UDAP metadata is not a JSON object.';
    return;
  }
  info.present = true;
  const signed = Object.hasOwn(json, 'signed_metadata') ? json.signed_metadata : undefined;
  if (typeof signed !== 'string' || signed.trim() === '') {
    info.error = 'The UDAP metadata has no signed_metadata, which UDAP requires; its plain values are unauthenticated.';
    result.warnings.push(
      warning('DOCUMENT_WRONG_SHAPE', `UDAP metadata at ${url} has no signed_metadata string (required by UDAP); only its plain values were used.`, {
        document: 'udap',
        field: 'signed_metadata',
      }),
    );
    accept(normalizeUdap(json, url, base, null, result.warnings));
    return;
  }
  info.signedMetadataPresent = true;
  // UDAP: iss is the FHIR base URL; accept it with or without the one trailing slash the user may have typed.
  const verification = await verifyUdapSignedMetadata(signed.trim(), [...new Set([base, stripOneTrailingSlash(input), input])]);
  info.claims = verification.claims;
  info.signatureVerified = verification.verified;
  info.error = verification.error;
  if (!verification.verified) {
    result.warnings.push(
      warning('UDAP_SIGNATURE_INVALID', `UDAP metadata at ${url}: ${verification.error ?? 'signed_metadata does not verify'} No UDAP value was used.`, {
        document: 'udap',
        field: 'signed_metadata',
      }),
    );
    // Found (the attempt stays "found" and the document is kept for display), but nothing from it is merged.
    accept(null);
    return;
  }
  result.warnings.push(
    warning(
      'UDAP_UNVERIFIED_TRUST',
      `UDAP signed_metadata at ${url} verifies with its own x5c certificate, but that certificate's chain to a trust anchor was not checked (out of scope for the registrar).`,
      { document: 'udap', field: 'signed_metadata' },
    ),
  );
  accept(normalizeUdap(json, url, base, verification.claims, result.warnings));
}

function assemble(input: string, base: string | null, results: TaskResult[], preWarnings: DiscoveryWarning[]): DiscoveryResult {
  const warnings = [...preWarnings, ...results.flatMap((r) => r.warnings)];
  const docs = new Map<DocumentKind, NormalizedDocument>();
  const documents: Partial<Record<DocumentKind, unknown>> = {};
  for (const r of results) {
    if (r.attempt.outcome !== 'found') continue;
    if (!(r.attempt.kind in documents)) documents[r.attempt.kind] = r.raw;
    if (r.doc && !docs.has(r.doc.kind)) docs.set(r.doc.kind, r.doc);
  }
  const udap = results.find((r) => r.udap)?.udap ?? null;

  const foundAtBase = results.some(
    (r) => r.attempt.outcome === 'found' && (r.attempt.kind === 'smart-configuration' || r.attempt.kind === 'capability-statement' || r.attempt.kind === 'udap'),
  );
  const fhirBaseUrl = base !== null && foundAtBase ? base : null;

  const merged = mergeDocuments(docs, fhirBaseUrl, warnings);
  const issuerDoc = docs.get('openid-configuration') ?? docs.get('oauth-authorization-server');
  const smartIssuer = docs.get('smart-configuration')?.issuer ?? null;
  // The SMART document's issuer is unchecked (no document at that address confirmed it). It is
  // taken as the identity only on the FHIR server's own site; another site's would let one
  // hospital's document claim another's identity (the issuer URL is unique per installation).
  const smartIssuerOnOwnSite = smartIssuer !== null && sameOrigin(smartIssuer, fhirBaseUrl ?? input);
  const issuer = issuerDoc?.issuer ?? (smartIssuerOnOwnSite ? smartIssuer : null);
  if (!issuerDoc && smartIssuer !== null && !smartIssuerOnOwnSite) {
    warnings.push(
      warning(
        'ISSUER_UNVERIFIED',
        `The SMART configuration names the issuer "${smartIssuer}", on another site than ${fhirBaseUrl ?? input}, and no OpenID or OAuth metadata there confirmed it: it is not taken as this server's identity.`,
        { document: 'smart-configuration', field: 'issuer' },
      ),
    );
  }
  if (issuerDoc?.issuer !== undefined && smartIssuer !== null && smartIssuer !== issuerDoc.issuer) {
    warnings.push(
      warning(
        'ENDPOINT_CONFLICT',
        `The SMART configuration names the issuer "${smartIssuer}", but the ${DOCUMENT_LABEL[issuerDoc.kind]} (checked against its URL) says "${issuerDoc.issuer}"; the latter is used.`,
        { document: issuerDoc.kind, field: 'issuer' },
      ),
    );
  }

  let failure: DiscoveryResult['failure'] = null;
  if (!merged.endpoints.token) {
    const mismatch = results.some((r) => r.issuerMismatch);
    const tried = results.length;
    failure = mismatch
      ? {
          code: 'ISSUER_MISMATCH',
          message: `No usable metadata for ${input}: the authorization server metadata found names a different issuer (see the ISSUER_MISMATCH warning), and no other document gives a token endpoint.`,
        }
      : {
          code: 'DISCOVERY_FAILED',
          message: `No token endpoint was found for ${input} after ${tried} request${tried === 1 ? '' : 's'} (see attempts): no SMART configuration, CapabilityStatement or OpenID / OAuth metadata gave one. Check that this is the issuer or the FHIR base URL.`,
        };
  } else {
    checkServer(merged, { issuer, smartIssuer, jwks: merged.endpoints.jwks !== undefined }, warnings);
  }

  return {
    input,
    issuer,
    fhirBaseUrl,
    endpoints: merged.endpoints,
    scopesSupported: merged.lists.scopes,
    grantTypesSupported: merged.lists.grantTypes,
    responseTypesSupported: merged.lists.responseTypes,
    tokenEndpointAuthMethodsSupported: merged.lists.authMethods,
    tokenEndpointAuthSigningAlgValuesSupported: merged.lists.signingAlgs,
    codeChallengeMethodsSupported: merged.lists.pkceMethods,
    capabilities: merged.capabilities,
    udap,
    documents,
    attempts: results.map((r) => r.attempt),
    warnings,
    failure,
    discoveredAt: new Date().toISOString(),
  };
}

/** Both URLs on the same origin (scheme, host, port); false when either is not a URL. */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
