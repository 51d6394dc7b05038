import 'server-only';

import { AppError } from '@/lib/errors';

import type { DocumentKind } from './types';

export type ParsedInput =
  /** An issuer or FHIR base: the normal discovery. */
  | { mode: 'base'; input: string; base: string }
  /** A SMART or UDAP well-known URL: discovery around the FHIR base it names, fetching this URL itself. */
  | { mode: 'base-from-well-known'; input: string; base: string; kind: 'smart-configuration' | 'udap' }
  /**
   * An OpenID / RFC 8414 well-known URL: only that document, whose issuer must be one this URL is
   * the well-known URL of (`issuers`: the URL's issuer with and without a trailing slash).
   */
  | { mode: 'issuer-document'; input: string; kind: 'openid-configuration' | 'oauth-authorization-server'; issuers: string[] };

const WELL_KNOWN = '/.well-known/';
const WELL_KNOWN_KINDS: Record<string, DocumentKind> = {
  'smart-configuration': 'smart-configuration',
  'openid-configuration': 'openid-configuration',
  'oauth-authorization-server': 'oauth-authorization-server',
  udap: 'udap',
};

/**
 * Parses what the user entered. Throws only for inputs that can never work (INVALID_URL,
 * INSECURE_SCHEME); the outbound policy (BLOCKED_ADDRESS, http allowlisting) is safeFetch's call.
 */
export function parseDiscoveryInput(raw: string): ParsedInput {
  const input = raw.trim();
  if (input === '') throw new AppError('INVALID_URL', 'Enter the issuer URL or the FHIR base URL.');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new AppError('INVALID_URL', 'That is not an absolute URL; enter the issuer or FHIR base, starting with https://.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AppError('INSECURE_SCHEME', `Only https URLs can be discovered; got a ${url.protocol} URL.`, {
      scheme: url.protocol.slice(0, -1),
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw new AppError('INVALID_URL', `URLs with embedded credentials are not allowed (host ${url.host}).`, { host: url.host });
  }
  if (input.includes('?') || input.includes('#')) {
    // Discovery paths are appended to the URL, which would land inside a query or fragment.
    throw new AppError('INVALID_URL', 'An issuer or FHIR base URL has no query (?) or fragment (#); remove them.');
  }

  // Read from the parsed URL (origin and path), never from the text as typed: a host in Unicode
  // (punycode in the origin), upper case or a default port would otherwise shift the positions.
  const at = url.pathname.indexOf(WELL_KNOWN);
  if (at === -1) return { mode: 'base', input, base: stripOneTrailingSlash(input) };

  const prefix = url.pathname.slice(0, at);
  const name = url.pathname.slice(at + WELL_KNOWN.length).split('/')[0] ?? '';
  const suffix = url.pathname.slice(at + WELL_KNOWN.length + name.length);
  const kind = WELL_KNOWN_KINDS[name];
  if (kind === undefined) {
    throw new AppError(
      'INVALID_URL',
      `"/.well-known/${name}" is not a discovery document the registrar reads; enter the issuer or FHIR base instead.`,
    );
  }
  if (kind === 'openid-configuration' || kind === 'oauth-authorization-server') return { mode: 'issuer-document', input, kind, issuers: issuersOfWellKnown(url.origin, prefix, suffix) };
  if (suffix !== '') throw new AppError('INVALID_URL', `Nothing follows "/.well-known/${name}" in its address; enter the FHIR base (or that document's address) instead.`);
  if (kind === 'smart-configuration' || kind === 'udap') return { mode: 'base-from-well-known', input, base: `${url.origin}${prefix}`, kind };
  throw new AppError('INVALID_URL', 'Unsupported well-known document.');
}

/**
 * The issuers a well-known URL can belong to, from its path before and after `/.well-known/{name}`.
 * Appended form (OpenID Connect Discovery §4, and servers that use it for RFC 8414 too):
 * `{issuer without its trailing slash}/.well-known/{name}`: nothing after. Inserted form (RFC 8414
 * §3.1): `{origin}/.well-known/{name}{issuer path}`: nothing before. A path on both sides is the
 * well-known address of no issuer. A trailing slash is dropped before building the URL, so both
 * spellings of the issuer qualify.
 */
function issuersOfWellKnown(origin: string, prefix: string, suffix: string): string[] {
  if (prefix !== '' && suffix !== '') {
    throw new AppError('INVALID_URL', `${origin}${prefix}/.well-known/…${suffix} is not the discovery address of any issuer: the issuer's path goes either before /.well-known/ (OpenID Connect) or after its name (RFC 8414), not both. Enter the issuer instead.`);
  }
  const bare = stripOneTrailingSlash(`${origin}${prefix}${suffix}`);
  return [...new Set([bare, `${bare}/`])];
}

export function stripOneTrailingSlash(value: string): string {
  return value.endsWith('/') ? value.slice(0, -1) : value;
}

/** SMART App Launch 2.2: appended to the FHIR base, even when the base has a path. */
export function smartConfigurationUrl(base: string): string {
  return `${stripOneTrailingSlash(base)}/.well-known/smart-configuration`;
}

export function capabilityStatementUrl(base: string): string {
  return `${stripOneTrailingSlash(base)}/metadata`;
}

/** HL7 UDAP Security: `{baseURL}/.well-known/udap`. */
export function udapUrl(base: string): string {
  return `${stripOneTrailingSlash(base)}/.well-known/udap`;
}

/** OpenID Connect Discovery 1.0 §4: a terminating "/" of the issuer is removed before appending. */
export function openidConfigurationUrl(issuer: string): string {
  return `${stripOneTrailingSlash(issuer)}/.well-known/openid-configuration`;
}

/** RFC 8414 §3.1: the well-known suffix goes between the host and the issuer's path (terminating "/" removed). */
export function oauthAuthorizationServerUrl(issuer: string): string | null {
  const url = URL.parse(issuer);
  if (!url) return null;
  const path = stripOneTrailingSlash(url.pathname);
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

/** Epic keys each environment by its OAuth base: `https://host/x/oauth2/token` → `https://host/x/oauth2`. */
export function epicOauthBase(endpoint: string): string | null {
  const url = URL.parse(endpoint);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return null;
  const match = /^(.*\/oauth2)\/(?:token|authorize)\/?$/i.exec(url.pathname);
  return match?.[1] ? `${url.origin}${match[1]}` : null;
}

export type ResolvedUrl = { ok: true; url: string; relative: boolean } | { ok: false; reason: string };

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * An endpoint value as a usable absolute http(s) URL. Relative values are resolved against the
 * base treated as a directory (`{base}/`), the way FHIR bases are used (`[base]/metadata`).
 */
export function resolveEndpointUrl(value: string, base: string | null): ResolvedUrl {
  if (HAS_SCHEME.test(value)) {
    const url = URL.parse(value);
    if (!url) return { ok: false, reason: 'it is not a valid URL' };
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: `its scheme ${url.protocol} is not http(s)` };
    if (url.username !== '' || url.password !== '') return { ok: false, reason: 'it embeds credentials' };
    // Kept exactly as the document spells it: registration and token requests use it verbatim.
    return { ok: true, url: value, relative: false };
  }
  if (base === null) return { ok: false, reason: 'it is relative and there is no base URL to resolve it against' };
  const resolved = URL.parse(value, base.endsWith('/') ? base : `${base}/`);
  if (!resolved) return { ok: false, reason: 'it is not a valid relative URL' };
  return { ok: true, url: resolved.href, relative: true };
}

/** host:port of an absolute URL, or null. */
export function hostOf(value: string): string | null {
  return URL.parse(value)?.host ?? null;
}
