import 'server-only';

import type { DiscoveryWarning, DocumentKind, WarningCode, WarningSeverity } from './types';

/** What each warning means and what to do about it, in one plain sentence, with its usual severity. */
export const WARNING_HELP: Record<WarningCode, { severity: WarningSeverity; help: string }> = {
  ISSUER_MISMATCH: {
    severity: 'error',
    help: 'An OpenID or RFC 8414 document names a different issuer than the one it was fetched for, so it was not used; enter the issuer exactly as the server states it (trailing slash included) or ask the hospital to fix its metadata.',
  },
  NO_REGISTRATION_ENDPOINT: {
    severity: 'warning',
    help: 'No document advertises a registration endpoint, so dynamic registration is impossible here; for Epic, set the app’s Epic client ID on the issuer page (saving it discovers again), otherwise ask the hospital how to register the app outside Registrar.',
  },
  HTTP_ENDPOINT: {
    severity: 'warning',
    help: 'An endpoint uses plain http, so credentials and tokens would travel unencrypted; use it only for local testing and ask for an https endpoint otherwise.',
  },
  CROSS_HOST_ENDPOINT: {
    severity: 'warning',
    help: 'An endpoint is on a different host from the issuer; check with the hospital that this host really belongs to them before sending credentials to it.',
  },
  S256_MISSING: {
    severity: 'warning',
    help: 'The server does not list PKCE method S256 (SMART requires it); authorization-code clients may be refused or unprotected, so confirm PKCE support with the hospital.',
  },
  PLAIN_PKCE_OFFERED: {
    severity: 'warning',
    help: 'The server offers the "plain" PKCE method, which SMART forbids; never use it, always send S256.',
  },
  NO_PRIVATE_KEY_JWT: {
    severity: 'warning',
    help: 'The server does not list private_key_jwt client authentication, so clients here would rely on shared secrets; prefer a server that supports it, or plan for secret rotation.',
  },
  SMART_REQUIRED_FIELD_MISSING: {
    severity: 'warning',
    help: 'The SMART configuration lacks a field SMART App Launch 2.2 requires; values may come from other documents, but tell the hospital its SMART document is incomplete.',
  },
  INCONSISTENT_CAPABILITIES: {
    severity: 'warning',
    help: 'The SMART capabilities promise something the rest of the metadata does not back up; do not rely on that capability until the hospital confirms it.',
  },
  UNKNOWN_CAPABILITY: {
    severity: 'info',
    help: 'The SMART document lists a capability that SMART App Launch 2.2 does not define (and that is not a full-URI extension); it is kept but means nothing to the registrar.',
  },
  LEGACY_FIELD_NAME: {
    severity: 'info',
    help: 'The document uses an old field name (SMART v1); its value was accepted, but newer clients may ignore it.',
  },
  RELATIVE_URL: {
    severity: 'warning',
    help: 'An endpoint was given as a relative URL and was resolved against the FHIR base; check the resolved URL before using it.',
  },
  ENDPOINT_CONFLICT: {
    severity: 'warning',
    help: 'Two documents give different values for the same field; the value from the higher-precedence document is used and the others are listed, so check which one the hospital means.',
  },
  ISSUER_UNVERIFIED: {
    severity: 'warning',
    help: 'The SMART configuration names an issuer on another site than the FHIR server, and no OpenID / OAuth metadata at that issuer confirmed it, so it is not taken as this server’s identity (one hospital’s document could otherwise claim another’s). Ask the hospital to publish OpenID or RFC 8414 metadata at its issuer.',
  },
  DOCUMENT_UNREACHABLE: {
    severity: 'warning',
    help: 'A discovery document could not be fetched (connection, DNS or outbound policy); check the URL, the network, and the outbound allowlist.',
  },
  DOCUMENT_TIMEOUT: {
    severity: 'warning',
    help: 'A discovery document did not arrive in time; try again later, or ask the hospital why the server is slow.',
  },
  DOCUMENT_TOO_LARGE: {
    severity: 'warning',
    help: 'A discovery document was larger than the size limit (after decompression) and was not read; a real metadata document is small, so ask the hospital what it serves there.',
  },
  DOCUMENT_NOT_JSON: {
    severity: 'warning',
    help: 'A discovery document was not JSON (often an HTML login or error page); check that the URL points at the API, not a web page.',
  },
  DOCUMENT_WRONG_SHAPE: {
    severity: 'warning',
    help: 'A discovery document is JSON but not the expected object (or a member has the wrong type); the affected document or member was ignored.',
  },
  DOCUMENT_REDIRECTED: {
    severity: 'warning',
    help: 'The server answered a discovery request with a redirect, which is never followed; enter the final URL directly if you trust it.',
  },
  DOCUMENT_HTTP_ERROR: {
    severity: 'warning',
    help: 'The server answered a discovery request with an HTTP error; the document was ignored, try again later or tell the hospital.',
  },
  UDAP_SIGNATURE_INVALID: {
    severity: 'error',
    help: 'The UDAP signed_metadata does not verify (signature, certificate or claims), so no UDAP value was used; do not trust this UDAP metadata until the hospital fixes it.',
  },
  UDAP_UNVERIFIED_TRUST: {
    severity: 'info',
    help: 'The UDAP signed_metadata verifies with the certificate it carries, but that certificate was not checked against a trust anchor (community); the registrar does not do that check.',
  },
  WELL_KNOWN_INPUT: {
    severity: 'warning',
    help: 'A discovery document URL was entered instead of an issuer or FHIR base: it was read as that document, and its issuer had to be the one the URL belongs to; prefer entering the issuer or FHIR base.',
  },
};

export function warning(
  code: WarningCode,
  message: string,
  extra: { document?: DocumentKind; field?: string; severity?: WarningSeverity } = {},
): DiscoveryWarning {
  return {
    code,
    severity: extra.severity ?? WARNING_HELP[code].severity,
    message,
    ...(extra.document ? { document: extra.document } : {}),
    ...(extra.field ? { field: extra.field } : {}),
  };
}
