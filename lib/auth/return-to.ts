/**
 * Where to send someone after they sign in: a path of this site, or null. Only a path that starts
 * with one '/' (not '//' or '/\', which browsers read as another host) and has no control
 * characters is accepted, so a crafted sign-in link cannot send anyone elsewhere (open redirect).
 * Pure: used by the sign-in page (server) and its form (browser).
 */
export function safeReturnPath(value: string | null | undefined): string | null {
  if (!value || value.length > 2000) return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return null;
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return null;
  // Back to the sign-in page itself, or into the auth API, would loop or do nothing useful.
  if (value === '/signin' || value.startsWith('/signin?') || value.startsWith('/api/')) return null;
  return value;
}

/** The header the proxy (proxy.ts) sets to the requested path, for pages that redirect to sign-in. */
export const REQUEST_PATH_HEADER = 'x-registrar-path';
