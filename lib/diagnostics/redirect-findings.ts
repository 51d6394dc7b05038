import 'server-only';
import type { ClosestRegisteredUri, MismatchCode } from '@/lib/redirect-uris';
import type { DiagnosticFinding } from './types';

const q = (s: string) => `'${s}'`;

/** What to change for each kind of difference; the registered value is appended by the caller. */
const FIX: Record<MismatchCode, string> = {
  SCHEME: 'Use the registered scheme.',
  HOST: 'Use the registered host.',
  HOST_CASE: 'Write the host in the same letter case as registered: the server compares the redirect URI as a string, not as a DNS name.',
  PORT: 'Use the registered port. Only a loopback IP redirect (http://127.0.0.1 or http://[::1]) may change its port; for a native app that needs a random port, register the loopback IP, not localhost.',
  DEFAULT_PORT: 'Write the port the same way on both sides: either both with the default port (:443 / :80) or both without it.',
  PATH: 'Use the registered path exactly.',
  PATH_CASE: 'Use the registered path with the same letter case; paths are case-sensitive.',
  TRAILING_SLASH: 'Add or remove the final slash so the URI is exactly the registered one.',
  QUERY: 'Send the registered query exactly (same parameters, same order, same encoding).',
  PERCENT_ENCODING: 'Percent-encode the URI exactly as registered.',
  PERCENT_ENCODING_CASE: 'Write percent-escapes in the same letter case as registered (%2F vs %2f).',
  DOT_SEGMENT: "Remove the '.' and '..' segments; the server does not resolve them before comparing.",
  FRAGMENT: 'Remove the fragment: redirect URIs must not have one.',
  WHITESPACE: 'Remove the stray whitespace, in the app’s configuration or in the registration, wherever it is.',
  DOUBLE_ENCODING: 'Encode redirect_uri once only when building the authorization URL (it was encoded twice).',
  INVISIBLE_CHARACTER:
    'Remove the invisible character wherever it is, in the app’s configuration or in the registration: retype the URI by hand, or delete the character in an editor that shows it (the highlight marks where it is). It usually arrives by copying from a document, chat or web page.',
  NOT_REGISTERED: 'Register the redirect URI the app sends (ops can update the registration), then try again.',
  LOOPBACK_PORT_ALLOWED:
    'Nothing to change: RFC 8252 §7.3 lets a native app choose any port on a loopback IP. If the server still refuses, it does not implement that exception; register the exact port the app uses.',
};

/**
 * Turns the comparator's findings for the closest registered URI into findings with a fix.
 * Every mismatch is an error (the server refuses the request); the loopback note is information.
 */
export function redirectFindings(presented: string, closest: ClosestRegisteredUri, opts: { epic: boolean }): DiagnosticFinding[] {
  const registered = closest.candidate;
  const either =
    registered === null
      ? ''
      : ` Either change the app to send exactly ${q(registered)}, or register ${q(presented)} as an additional redirect URI${opts.epic ? ' (Epic applies registration changes after about 30 minutes)' : ''}.`;
  return closest.findings.map((f) => ({
    code: f.code,
    severity: f.code === 'LOOPBACK_PORT_ALLOWED' ? 'info' : 'error',
    subject: 'redirect_uri',
    message: f.message,
    fix: f.code === 'LOOPBACK_PORT_ALLOWED' || f.code === 'NOT_REGISTERED' ? FIX[f.code] : `${FIX[f.code]}${either}`,
  }));
}

/** Every finding code a redirect URI comparison can give (the API documents them all). */
export const MISMATCH_CODES = Object.keys(FIX) as MismatchCode[];
