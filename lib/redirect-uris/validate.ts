// Pure module (browser-safe): registration rules for redirect URIs, used for live validation.
// Sources: RFC 6749 §3.1.2 (absolute, no fragment), RFC 8252 §7.1/§7.3/§8.3 (private-use schemes,
// loopback IP literals, localhost), RFC 9700 §2.1 and §4.1 (exact matching, no wildcards),
// OpenID Connect Dynamic Client Registration §2 (`application_type` web vs native).
import { isLoopbackIpHost, splitUri } from './split';

export type RedirectFindingCode =
  | 'EMPTY'
  | 'WHITESPACE'
  | 'NOT_ABSOLUTE'
  | 'UNPARSEABLE'
  | 'FRAGMENT'
  | 'WILDCARD'
  | 'INSECURE_HTTP'
  | 'LOCALHOST_NOT_LOOPBACK_IP'
  | 'PRIVATE_SCHEME_NOT_REVERSE_DOMAIN'
  | 'CREDENTIALS'
  | 'QUERY_PRESENT'
  | 'DUPLICATE';

export type RedirectFinding = {
  code: RedirectFindingCode;
  severity: 'error' | 'warning' | 'info';
  message: string;
  fix: string;
};

export type RedirectValidationOptions = { applicationType?: 'web' | 'native' };

// RFC 3986 characters allowed literally in a path, query or fragment (plus '%' for pct-encoding).
const URI_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/;
const REG_NAME = /^[A-Za-z0-9\-._~!$&'()+,;=%]+$/;
const isUriChar = (ch: string) => URI_CHAR.test(ch) || ch === '#' || ch === '[' || ch === ']';

function describe(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (ch === ' ') return 'a space';
  if (/\s/.test(ch) || code < 0x20 || code === 0x7f) return `a control or whitespace character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  if (code > 0x7e) return `the non-ASCII character '${ch}'`;
  return `the character '${ch}'`;
}

function isLocalhost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** Registration rules for one redirect URI (RFC 8252, RFC 9700, OIDC DCR). */
export function validateRedirectUri(raw: string, opts: RedirectValidationOptions = {}): RedirectFinding[] {
  const findings: RedirectFinding[] = [];
  const add = (code: RedirectFindingCode, severity: RedirectFinding['severity'], message: string, fix: string) =>
    findings.push({ code, severity, message, fix });

  if (raw.trim().length === 0) {
    add('EMPTY', 'error', 'The redirect URI is empty.', 'Enter the full callback URL, for example https://app.example.com/callback.');
    return findings;
  }
  const value = raw.trim();
  if (value !== raw) {
    add(
      'WHITESPACE',
      'error',
      'The redirect URI has whitespace before or after it. Servers compare redirect URIs exactly, so the spaces would become part of it.',
      `Remove the surrounding whitespace: ${value}`,
    );
  }

  const u = splitUri(value);

  // Characters that may never appear literally in a URI.
  const badChar = [...value].find((ch) => !isUriChar(ch));
  if (badChar !== undefined) {
    add(
      'UNPARSEABLE',
      'error',
      `The redirect URI contains ${describe(badChar)}, which is not allowed in a URI.`,
      'Percent-encode it (a space is %20) or remove it.',
    );
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(value)) {
    add('UNPARSEABLE', 'error', "The redirect URI contains a '%' that is not followed by two hex digits.", "Write a literal '%' as %25, or fix the escape.");
  }

  if (value.includes('*')) {
    add(
      'WILDCARD',
      'error',
      "The redirect URI contains '*'. Wildcards are not allowed: the server compares the whole string exactly (RFC 9700).",
      'Register each exact callback URL separately.',
    );
  }
  if (u.fragment !== null) {
    add('FRAGMENT', 'error', "The redirect URI contains a fragment ('#'); redirect URIs must not have one (RFC 6749 §3.1.2).", `Remove everything from '#': ${value.slice(0, value.indexOf('#'))}`);
  }

  if (u.scheme === null) {
    add(
      'NOT_ABSOLUTE',
      'error',
      'The redirect URI is not absolute: it does not start with a scheme such as https:.',
      value.startsWith('//') ? `Add the scheme: https:${value}` : 'Write the full URL, for example https://app.example.com/callback.',
    );
    return findings;
  }

  const scheme = u.scheme.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    validateWebUri(u, scheme, opts, add);
  } else {
    validatePrivateScheme(u, add);
  }

  if (u.query !== null) {
    add(
      'QUERY_PRESENT',
      'warning',
      'The redirect URI has a query string. It is allowed, but the app must send exactly the same query, in the same order, every time.',
      'Prefer a callback URL without a query; carry state in the state parameter instead.',
    );
  }
  return findings;
}

type Add = (code: RedirectFindingCode, severity: RedirectFinding['severity'], message: string, fix: string) => void;

function validateWebUri(u: ReturnType<typeof splitUri>, scheme: 'http' | 'https', opts: RedirectValidationOptions, add: Add): void {
  if (u.authority === null || u.host === null || u.host.length === 0) {
    add('UNPARSEABLE', 'error', `The redirect URI has no host after ${u.scheme}://.`, 'Write the full URL, for example https://app.example.com/callback.');
    return;
  }
  if (u.userinfo !== null) {
    add(
      'CREDENTIALS',
      'error',
      "The redirect URI contains a user name or password before '@'.",
      `Remove '${u.userinfo}@' from the URI.`,
    );
  }
  if (u.host.startsWith('[')) {
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(u.host)) {
      add('UNPARSEABLE', 'error', `The host '${u.host}' is not a valid IPv6 literal.`, 'Write an IPv6 address in brackets, for example [::1].');
    }
  } else if (!REG_NAME.test(u.host) && [...u.host].every(isUriChar)) {
    // (characters that are never allowed in a URI were reported already)
    const bad = [...u.host].find((ch) => !/[A-Za-z0-9\-._~!$&'()+,;=%]/.test(ch));
    if (bad !== '*') {
      add(
        'UNPARSEABLE',
        'error',
        `The host '${u.host}' contains ${bad === undefined ? 'characters' : describe(bad)} not allowed in a host name.`,
        'Use the ASCII (punycode) form of the host name.',
      );
    }
  }
  if (u.port !== null && u.port.length > 0 && (!/^\d+$/.test(u.port) || Number(u.port) > 65535)) {
    add('UNPARSEABLE', 'error', `The port '${u.port}' is not a number between 0 and 65535.`, 'Fix or remove the port.');
  }

  const localhost = isLocalhost(u.host);
  const loopbackIp = isLoopbackIpHost(u.host);
  if (localhost) {
    add(
      'LOCALHOST_NOT_LOOPBACK_IP',
      'warning',
      "'localhost' is a name, not a loopback IP literal: it may resolve elsewhere, and servers give the any-port exception only to 127.0.0.1 and [::1] (RFC 8252 §8.3).",
      `Use ${u.scheme}://127.0.0.1${u.port !== null ? `:${u.port}` : ''}${u.path} (or [::1]) instead.`,
    );
  }
  if (scheme === 'http') {
    if (loopbackIp && opts.applicationType === 'web') {
      add(
        'INSECURE_HTTP',
        'error',
        'http on a loopback IP is only for native apps (RFC 8252 §7.3); a web application must use https.',
        "Use https, or set the application type to 'native' if this is a desktop app.",
      );
    } else if (localhost && opts.applicationType !== 'web') {
      // RFC 8252 §7.3/§8.3: a native app's http redirect must name the loopback IP; servers that
      // follow it (the Mercy sandbox does) refuse http://localhost with invalid_redirect_uri.
      add(
        'INSECURE_HTTP',
        'error',
        "http is allowed only on the loopback IP literals 127.0.0.1 and [::1], for native apps (RFC 8252 §7.3); 'localhost' is a name, and hospitals refuse it.",
        `Use http://127.0.0.1${u.port !== null ? `:${u.port}` : ''}${u.path}${u.query !== null ? `?${u.query}` : ''} (the app must listen on that IP).`,
      );
    } else if (!loopbackIp) {
      add(
        'INSECURE_HTTP',
        'error',
        'The redirect URI uses http. Only https is allowed, except http://127.0.0.1 and http://[::1] for native apps.',
        `Use https://${u.authority}${u.path}${u.query !== null ? `?${u.query}` : ''}`,
      );
    }
  }
}

function validatePrivateScheme(u: ReturnType<typeof splitUri>, add: Add): void {
  const scheme = u.scheme ?? '';
  const labels = scheme.split('.');
  if (labels.length < 2 || labels.some((l) => l.length === 0)) {
    add(
      'PRIVATE_SCHEME_NOT_REVERSE_DOMAIN',
      'error',
      `The private-use scheme '${scheme}:' is not a reverse domain name. RFC 8252 §7.1 requires a scheme based on a domain you control, such as com.example.app.`,
      `Use a scheme like com.example.${labels.find((l) => l.length > 0)?.toLowerCase() ?? 'app'}:/callback.`,
    );
  }
  if (u.userinfo !== null) {
    add('CREDENTIALS', 'error', "The redirect URI contains a user name or password before '@'.", `Remove '${u.userinfo}@' from the URI.`);
  }
}

/** Validates a list of redirect URIs; adds DUPLICATE for exact repeats. */
export function validateRedirectUris(
  list: readonly string[],
  opts: RedirectValidationOptions = {},
): Array<{ uri: string; index: number; findings: RedirectFinding[] }> {
  const first = new Map<string, number>();
  return list.map((uri, index) => {
    const findings = validateRedirectUri(uri, opts);
    const earlier = first.get(uri);
    if (earlier === undefined) {
      first.set(uri, index);
    } else {
      findings.push({
        code: 'DUPLICATE',
        severity: 'warning',
        message: `This redirect URI is listed twice (same as entry ${earlier + 1}).`,
        fix: 'Remove the repeated entry.',
      });
    }
    return { uri, index, findings };
  });
}

/**
 * The findings that make a list unregistrable (severity error), one message each, for refusing a
 * save or a registration with a reason that names the URI. Warnings (a duplicate, localhost) do not
 * refuse: the form shows them live.
 */
export function redirectUriErrors(list: readonly string[], opts: RedirectValidationOptions = {}): string[] {
  return validateRedirectUris(list, opts).flatMap((r) => r.findings.filter((f) => f.severity === 'error').map((f) => `${JSON.stringify(r.uri)}: ${f.message} ${f.fix}`.trim()));
}
