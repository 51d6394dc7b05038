/**
 * Keys whose values are secrets wherever they appear: logs, audit details, error details.
 * Matching is by key name, case-insensitive, at any depth.
 */
// `token$` catches access_token, registrationAccessToken, initialAccessToken but not token_endpoint.
const SECRET_KEY = /(secret|password|passwd|token$|tokens$|authorization|private_?key|assertion|cookie|api_?key|^(d|p|q|dp|dq|qi|k)$)/i;

// About a secret, not the secret: when it expires or was issued, its fingerprint, its kind.
// (`secretExpiry: "at"` redacted would hide what auditors need, and feeding a short value such as
// "at" or "0" to a message redactor would blank every occurrence of it.)
const DESCRIBES_SECRET = /(expir|issued_?at|fingerprint|kind)$|expires_?at$|_?expiry$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !DESCRIBES_SECRET.test(key);
}

// user:password@ in a URL, and a query parameter whose name is a secret key (?access_token=…).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;
const QUERY_PARAM = /([?&])([^=&#\s]+)=([^&#\s]*)/g;

/** A text with the credentials a URL in it may carry (user:password@, ?access_token=…) replaced by "[redacted]". */
export function redactUrlSecrets(text: string): string {
  if (!text.includes('://') && !text.includes('=')) return text;
  return text.replace(URL_USERINFO, '$1[redacted]@').replace(QUERY_PARAM, (whole, sep: string, name: string) => (isSecretKey(decodeSafely(name)) ? `${sep}${name}=[redacted]` : whole));
}

function decodeSafely(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/** Deep copy with secret-bearing values replaced by "[redacted]", and the credentials of URLs in strings too (redactUrlSecrets). */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactUrlSecrets(value) as T;
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretKey(k) ? '[redacted]' : redactSecrets(v, depth + 1);
  }
  return out as T;
}
