import 'server-only';

import { AppError } from '@/lib/errors';

import { privateMembersOf } from './keys';
import type { ClientMetadata, JsonWebKeyLike } from './types';

/**
 * Epic's dynamic registration body: exactly {software_id, jwks}, where software_id is the app's
 * Epic client id and jwks holds public RSA/EC keys with a kid. Any private member (d, p, q, dp,
 * dq, qi, oth, k) in any key is refused rather than stripped: it means the wrong key was picked.
 */
export function buildEpicRegistrationBody(softwareId: string, jwks: { keys: JsonWebKeyLike[] }): ClientMetadata {
  const id = softwareId.trim();
  if (id === '') throw new AppError('INVALID', 'software_id (the Epic client id of the app) is required.', { field: 'software_id' });
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new AppError('INVALID', 'jwks needs at least one public key.', { field: 'jwks' });
  }
  const keys = jwks.keys.map((key, index) => {
    const found = privateMembersOf(key);
    if (found.length > 0) {
      throw new AppError('INVALID', `jwks.keys[${index}] contains private key material (${found.join(', ')}); send public keys only.`, {
        field: 'jwks',
        members: found,
      });
    }
    if (key.kty !== 'RSA' && key.kty !== 'EC') {
      throw new AppError('INVALID', `jwks.keys[${index}] has kty ${String(key.kty)}; Epic accepts RSA or EC keys.`, { field: 'jwks' });
    }
    if (typeof key.kid !== 'string' || key.kid === '') {
      throw new AppError('INVALID', `jwks.keys[${index}] has no kid.`, { field: 'jwks' });
    }
    return { ...key };
  });
  return { software_id: id, jwks: { keys } };
}

/**
 * Heuristic: does this registration endpoint behave like Epic's (body exactly {software_id, jwks},
 * no secret, no RFC 7592)? True when the endpoint path ends in `/oauth2/register` and either the
 * FHIR base is `{same origin}{same prefix}/api/FHIR/<version>` (Epic's layout, e.g.
 * `/interconnect-fhir-oauth/oauth2/register` beside `/interconnect-fhir-oauth/api/FHIR/R4`) or,
 * without a FHIR base, the prefix contains an `interconnect` segment. The host name is not used
 * (customers run Epic under their own names), and neither are SMART capabilities: Epic publishes
 * the standard ones, so they do not tell it apart. Callers should let an admin override this.
 */
export function looksLikeEpicRegistration(issuer: { fhirBaseUrl?: string | null; registrationEndpoint: string; capabilities?: string[] }): boolean {
  const registration = URL.parse(issuer.registrationEndpoint);
  if (!registration) return false;
  const match = /^(.*)\/oauth2\/register\/?$/i.exec(registration.pathname);
  if (!match) return false;
  const prefix = match[1] ?? '';

  const fhir = issuer.fhirBaseUrl ? URL.parse(issuer.fhirBaseUrl) : null;
  if (fhir) {
    const fhirMatch = /^(.*)\/api\/FHIR\/(?:R4|STU3|DSTU2)\/?$/i.exec(fhir.pathname);
    return fhirMatch !== null && fhir.origin === registration.origin && (fhirMatch[1] ?? '').toLowerCase() === prefix.toLowerCase();
  }
  return /(^|\/)interconnect[^/]*(\/|$)/i.test(prefix);
}
