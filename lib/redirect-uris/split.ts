// Pure module (browser-safe). A tolerant RFC 3986 §3 splitter that never normalises: every part is
// the exact substring of the input, so comparisons can explain differences that `new URL()` would
// hide (host case, `:443`, a trailing `/`, `..` segments, percent-encoding).

export type SplitUri = {
  raw: string;
  /** leading whitespace that was cut off before splitting */
  leading: string;
  /** trailing whitespace that was cut off before splitting */
  trailing: string;
  /** scheme as written (no ':'), or null when the string does not start with one */
  scheme: string | null;
  /** everything between '//' and the path, or null when there is no '//' */
  authority: string | null;
  /** user info before '@' in the authority, or null */
  userinfo: string | null;
  /** host as written; IPv6 literals keep their brackets; null without an authority */
  host: string | null;
  /** digits (or junk) after the last ':' of the authority, '' for a bare ':', null for none */
  port: string | null;
  path: string;
  /** text after '?' (without it), or null when there is no '?' */
  query: string | null;
  /** text after '#' (without it), or null when there is no '#' */
  fragment: string | null;
};

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Splits scheme://authority/path?query#fragment without changing a character. */
export function splitUri(raw: string): SplitUri {
  const leading = /^\s*/.exec(raw)?.[0] ?? '';
  const body = raw.slice(leading.length);
  const trailing = /\s*$/.exec(body)?.[0] ?? '';
  let rest = body.slice(0, body.length - trailing.length);

  let fragment: string | null = null;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  let query: string | null = null;
  const qm = rest.indexOf('?');
  if (qm >= 0) {
    query = rest.slice(qm + 1);
    rest = rest.slice(0, qm);
  }

  let scheme: string | null = null;
  const m = SCHEME.exec(rest);
  if (m !== null) {
    scheme = m[1] ?? null;
    rest = rest.slice(m[0].length);
  }

  let authority: string | null = null;
  let userinfo: string | null = null;
  let host: string | null = null;
  let port: string | null = null;
  if (rest.startsWith('//')) {
    const end = rest.indexOf('/', 2);
    authority = end < 0 ? rest.slice(2) : rest.slice(2, end);
    rest = end < 0 ? '' : rest.slice(end);
    let hostPort = authority;
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      userinfo = authority.slice(0, at);
      hostPort = authority.slice(at + 1);
    }
    if (hostPort.startsWith('[')) {
      const close = hostPort.indexOf(']');
      if (close < 0) {
        host = hostPort;
      } else {
        host = hostPort.slice(0, close + 1);
        const after = hostPort.slice(close + 1);
        if (after.startsWith(':')) port = after.slice(1);
        else if (after.length > 0) host = hostPort; // junk after ']' stays part of the host
      }
    } else {
      const colon = hostPort.lastIndexOf(':');
      if (colon >= 0) {
        host = hostPort.slice(0, colon);
        port = hostPort.slice(colon + 1);
      } else {
        host = hostPort;
      }
    }
  }

  return { raw, leading, trailing, scheme, authority, userinfo, host, port, path: rest, query, fragment };
}

/** RFC 8252 §7.3: the loopback IP literals (not `localhost`, not other 127/8 spellings). */
export function isLoopbackIpHost(host: string | null): boolean {
  return host === '127.0.0.1' || host === '[::1]';
}

/**
 * RFC 3986 §3.2.3 (port = *DIGIT) and RFC 793 (16-bit ports): no port, an empty one, or 1 to 5
 * digits up to 65535. Only such ports get the RFC 8252 §7.3 loopback exception; a server refuses
 * anything else.
 */
export function isValidPort(port: string | null): boolean {
  return port === null || port === '' || (/^\d{1,5}$/.test(port) && Number(port) <= 65535);
}

export function defaultPortFor(scheme: string | null): string | null {
  const s = scheme?.toLowerCase();
  return s === 'https' ? '443' : s === 'http' ? '80' : null;
}
