import 'server-only';
import { splitUri } from '@/lib/redirect-uris';
import { AppError } from '@/lib/errors';
import type { AuthorizationRequestSummary } from './types';

export type ParsedAuthorizationRequest = AuthorizationRequestSummary & {
  /** Every parameter as decoded, in order; repeated names keep every value. */
  params: Array<[string, string]>;
};

/**
 * Parses an authorization request URL the way an authorization server reads it (RFC 6749 §4.1.1:
 * application/x-www-form-urlencoded query). Only the query is decoded; the redirect_uri value is
 * never normalised, so what is compared is exactly what the server compares. The authorize
 * endpoint is kept as written (`scheme://authority/path`) to find the issuer.
 */
export function parseAuthorizationRequestUrl(input: string): ParsedAuthorizationRequest {
  const raw = input.trim();
  const split = splitUri(raw);
  if (split.scheme === null || split.authority === null || !/^https?$/i.test(split.scheme) || (split.host ?? '') === '') {
    throw new AppError('INVALID', 'That is not an authorization request URL: paste the whole URL the app opened, starting with https://.', { field: 'url' });
  }
  if (split.query === null || split.query.trim() === '') {
    throw new AppError('INVALID', 'That URL has no query string, so it carries no client_id or redirect_uri. Paste the whole authorization request URL (…/authorize?response_type=code&client_id=…).', {
      field: 'url',
    });
  }
  // URLSearchParams applies the form decoding ('+' is a space, %XX escapes, bad escapes kept).
  const params = [...new URLSearchParams(split.query)];
  const counts = new Map<string, number>();
  for (const [name] of params) counts.set(name, (counts.get(name) ?? 0) + 1);
  const firstValue = (name: string): string | null => params.find(([n]) => n === name)?.[1] ?? null;

  return {
    authorizeEndpoint: `${split.scheme}://${split.authority}${split.path}`,
    clientId: firstValue('client_id'),
    redirectUri: firstValue('redirect_uri'),
    responseType: firstValue('response_type'),
    scope: firstValue('scope'),
    aud: firstValue('aud'),
    hasState: (firstValue('state') ?? '') !== '',
    hasCodeChallenge: (firstValue('code_challenge') ?? '') !== '',
    codeChallengeMethod: firstValue('code_challenge_method'),
    // RFC 6749 §3.1: request parameters MUST NOT be included more than once.
    duplicates: [...counts].filter(([, n]) => n > 1).map(([name]) => name),
    usesRequestObject: counts.has('request') || counts.has('request_uri'),
    params,
  };
}
