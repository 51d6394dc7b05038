import 'server-only';
import { env } from '@/lib/env';

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
  return reachable ? `${base}/api/jwks/${appId}/${encodeURIComponent(environment)}` : null;
}
