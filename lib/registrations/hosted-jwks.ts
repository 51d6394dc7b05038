import 'server-only';
import type { PublishedKeyPurpose } from '@/lib/apps/queries';
import { env } from '@/lib/env';

/**
 * Where Registrar serves an app's public keys of one purpose (app/api/jwks): the client
 * authentication keys at the environment's URL (the registrations' jwks_uri), the software statement
 * keys under it, for the hospitals that verify the statements Registrar signs for the app.
 */
export function publishedJwksUrl(appId: string, environment: string, purpose: PublishedKeyPurpose): string {
  const url = `${env().REGISTRAR_PUBLIC_URL.replace(/\/$/, '')}/api/jwks/${appId}/${encodeURIComponent(environment)}`;
  return purpose === 'software_statement' ? `${url}/software-statement` : url;
}

/**
 * The app's hosted JWKS URL for a registration, or null when this hospital could not fetch it —
 * Registrar's public URL is not https and the hospital is not on this machine (the sandbox) — in
 * which case the key goes inline. One decision for the review screen and for Register, so what
 * the person reviews is what is sent.
 */
export function hostedJwksUriFor(appId: string, environment: string, registrationEndpoint: string | null): string | null {
  const base = env().REGISTRAR_PUBLIC_URL.replace(/\/$/, '');
  const publicUrl = new URL(base);
  const loopback = (h: string) => h === 'localhost' || h === '[::1]' || h.startsWith('127.');
  const reachable = publicUrl.protocol === 'https:' || (loopback(publicUrl.hostname) && registrationEndpoint !== null && loopback(new URL(registrationEndpoint).hostname));
  return reachable ? publishedJwksUrl(appId, environment, 'client_auth') : null;
}
