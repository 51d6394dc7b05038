// Pure (zod only): the diagnosis input, and its round trip through the page's query string so a
// diagnosis has a shareable link.
import { z } from 'zod';
import type { DiagnosisInput, DiagnosisMode } from './types';

const MAX = 8000;

/**
 * Redirect URI diagnosis limits, shared with the API: 2,048 characters is common practice for a
 * URL, and a registration rarely has more than a handful of redirect URIs. They keep the
 * comparator's input small (its character-level work is capped separately, in lib/redirect-uris).
 */
export const REDIRECT_URI_MAX_CHARS = 2048;
export const REGISTERED_URIS_MAX = 50;
const thousands = (n: number) => n.toLocaleString('en-US');
const optionalIssuer = z
  .string()
  .max(2000, 'That issuer URL is too long.')
  .optional()
  .nullable()
  .transform((v) => (v === undefined || v === null || v.trim() === '' ? null : v.trim()));

/**
 * The presented redirect URI, from the page's field or the API's `presented`, is kept byte for byte
 * (never trimmed): a server refuses "https://app/cb " when "https://app/cb" is registered, so the
 * comparator must see the space and say WHITESPACE, not "exact match". Only the blank check and the
 * length limit look past surrounding whitespace.
 */
const typedRedirectUri = z.string().superRefine((value, ctx) => {
  const visible = value.trim();
  if (visible === '') ctx.addIssue({ code: 'custom', message: 'Enter the redirect URI the app sends.' });
  // Whitespace around it is not counted, up to a point (the comparator's input stays small).
  else if (visible.length > REDIRECT_URI_MAX_CHARS || value.length > REDIRECT_URI_MAX_CHARS + 100) ctx.addIssue({ code: 'custom', message: `That redirect URI is too long (${thousands(REDIRECT_URI_MAX_CHARS)} characters at most).` });
});

/** Pasted registered URIs: the limits apply to the URIs as split, whether pasted as lines or as a JSON array. */
const pastedRegisteredUris = z
  .union([z.string().max(MAX * 4, `The pasted registered URIs are too long (${thousands(MAX * 4)} characters at most).`), z.array(z.string())])
  .superRefine((value, ctx) => {
    const uris = splitPastedUris(value);
    if (uris.length > REGISTERED_URIS_MAX) {
      ctx.addIssue({ code: 'custom', message: `Paste at most ${REGISTERED_URIS_MAX} registered redirect URIs (there are ${uris.length}).` });
    }
    const long = uris.findIndex((uri) => uri.length > REDIRECT_URI_MAX_CHARS);
    if (long >= 0) {
      ctx.addIssue({ code: 'custom', message: `Registered redirect URI ${long + 1} is too long (${thousands(REDIRECT_URI_MAX_CHARS)} characters at most).` });
    }
  });

export const diagnosisInputSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('url'),
    authorizationUrl: z.string().trim().min(1, 'Paste the authorization request URL.').max(MAX, 'That URL is too long.'),
    issuer: optionalIssuer,
  }),
  z.object({
    mode: z.literal('client'),
    clientId: z.string().min(1, 'Enter the client id.').max(500, 'That client id is too long.'),
    redirectUri: typedRedirectUri,
    issuer: optionalIssuer,
  }),
  z.object({
    mode: z.literal('pasted'),
    redirectUri: typedRedirectUri,
    registeredUris: pastedRegisteredUris,
  }),
]);
export type ParsedDiagnosisInput = z.output<typeof diagnosisInputSchema>;

/**
 * Registered URIs pasted by hand: a JSON array of strings is taken exactly (stray spaces inside
 * the quotes are kept, so Epic's leading-space values show up); otherwise one URI per line with
 * the surrounding whitespace of each line removed and blank lines dropped.
 */
export function splitPastedUris(value: string | readonly string[]): string[] {
  if (typeof value !== 'string') return [...value];
  const text = value.trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((x): x is string => typeof x === 'string')) return parsed;
    } catch {
      // Not JSON: fall through to one per line.
    }
  }
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

type SearchParams = Record<string, string | string[] | undefined>;

/** The page's query parameter names, one set for all three modes. */
export const QUERY_KEYS = { mode: 'mode', url: 'url', issuer: 'issuer', clientId: 'client_id', redirectUri: 'redirect_uri', registered: 'registered' } as const;

export type DiagnoseFormValues = { mode: DiagnosisMode; url: string; issuer: string; clientId: string; redirectUri: string; registered: string };

const first = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

/**
 * Reads the page's query string: the values to put back into the form, and the input to diagnose
 * (null while the form for the chosen mode is still empty, so the bare page shows no error).
 */
export function parseDiagnoseSearchParams(sp: SearchParams): { values: DiagnoseFormValues; input: DiagnosisInput | null } {
  const rawMode = first(sp[QUERY_KEYS.mode]);
  const mode: DiagnosisMode = rawMode === 'client' || rawMode === 'pasted' ? rawMode : 'url';
  const values: DiagnoseFormValues = {
    mode,
    url: first(sp[QUERY_KEYS.url]),
    issuer: first(sp[QUERY_KEYS.issuer]),
    clientId: first(sp[QUERY_KEYS.clientId]),
    redirectUri: first(sp[QUERY_KEYS.redirectUri]),
    registered: first(sp[QUERY_KEYS.registered]),
  };
  let input: DiagnosisInput | null = null;
  if (mode === 'url' && values.url.trim() !== '') input = { mode, authorizationUrl: values.url, issuer: values.issuer };
  if (mode === 'client' && (values.clientId !== '' || values.redirectUri !== '')) input = { mode, clientId: values.clientId, redirectUri: values.redirectUri, issuer: values.issuer };
  if (mode === 'pasted' && (values.redirectUri !== '' || values.registered !== '')) input = { mode, redirectUri: values.redirectUri, registeredUris: values.registered };
  return { values, input };
}

/** The query string that reproduces a diagnosis (only the fields of its mode). */
export function diagnosisQueryString(input: DiagnosisInput): string {
  const params = new URLSearchParams({ [QUERY_KEYS.mode]: input.mode });
  if (input.mode === 'url') {
    params.set(QUERY_KEYS.url, input.authorizationUrl);
    if (input.issuer) params.set(QUERY_KEYS.issuer, input.issuer);
  } else if (input.mode === 'client') {
    params.set(QUERY_KEYS.clientId, input.clientId);
    params.set(QUERY_KEYS.redirectUri, input.redirectUri);
    if (input.issuer) params.set(QUERY_KEYS.issuer, input.issuer);
  } else {
    params.set(QUERY_KEYS.redirectUri, input.redirectUri);
    params.set(QUERY_KEYS.registered, typeof input.registeredUris === 'string' ? input.registeredUris : JSON.stringify(input.registeredUris));
  }
  return params.toString();
}
