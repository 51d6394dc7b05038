import { describe, expect, it } from 'vitest';
import { parseAuthorizationRequestUrl } from './parse-request';
import { diagnosisInputSchema, diagnosisQueryString, parseDiagnoseSearchParams, splitPastedUris } from './schemas';

describe('parseAuthorizationRequestUrl', () => {
  it('keeps the authorize endpoint as written and decodes the query as a server does', () => {
    const r = parseAuthorizationRequestUrl(
      '  https://EHR.example.com:443/Interconnect/oauth2/authorize?response_type=code&client_id=abc&redirect_uri=https%3A%2F%2FApp.example.com%2Fcb%2F&scope=openid+patient%2FObservation.rs&state=x&aud=https%3A%2F%2Fehr.example.com%2Ffhir#frag\n',
    );
    expect(r.authorizeEndpoint).toBe('https://EHR.example.com:443/Interconnect/oauth2/authorize');
    expect(r.redirectUri).toBe('https://App.example.com/cb/');
    expect(r.scope).toBe('openid patient/Observation.rs');
    expect(r.aud).toBe('https://ehr.example.com/fhir');
    expect(r.hasState).toBe(true);
    expect(r.hasCodeChallenge).toBe(false);
    expect(r.codeChallengeMethod).toBeNull();
    expect(r.duplicates).toEqual([]);
  });

  it('lists repeated parameters and notices request objects', () => {
    const r = parseAuthorizationRequestUrl('https://ehr.example.com/authorize?client_id=a&client_id=b&request_uri=urn%3Ax');
    expect(r.clientId).toBe('a');
    expect(r.duplicates).toEqual(['client_id']);
    expect(r.usesRequestObject).toBe(true);
  });

  it('keeps an unencoded redirect_uri value as far as the query allows', () => {
    const r = parseAuthorizationRequestUrl('https://ehr.example.com/authorize?client_id=a&redirect_uri=http://127.0.0.1:5000/cb&state=');
    expect(r.redirectUri).toBe('http://127.0.0.1:5000/cb');
    expect(r.hasState).toBe(false);
  });
});

describe('query string round trip (shareable link)', () => {
  it.each([
    { mode: 'url', authorizationUrl: 'https://ehr.example.com/authorize?client_id=a&redirect_uri=x', issuer: 'https://ehr.example.com' },
    { mode: 'client', clientId: 'abc', redirectUri: 'https://app.example.com/cb/', issuer: null },
    { mode: 'pasted', redirectUri: 'https://app.example.com/cb', registeredUris: 'https://app.example.com/cb/\nhttps://b.example.com' },
  ] as const)('$mode', (input) => {
    const sp = Object.fromEntries(new URLSearchParams(diagnosisQueryString(input)));
    const { input: back } = parseDiagnoseSearchParams(sp);
    expect(back).toMatchObject(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null)));
  });

  it('an empty form diagnoses nothing', () => {
    expect(parseDiagnoseSearchParams({}).input).toBeNull();
    expect(parseDiagnoseSearchParams({ mode: 'client' }).input).toBeNull();
    expect(parseDiagnoseSearchParams({ mode: 'bogus', url: 'x' }).values.mode).toBe('url');
  });
});

describe('splitPastedUris', () => {
  it.each([
    ['lines, trimmed, blanks dropped', '  https://a/cb \r\n\r\nhttps://b/cb\n', ['https://a/cb', 'https://b/cb']],
    ['JSON array kept exactly', '[" https://a/cb", "https://b/cb/"]', [' https://a/cb', 'https://b/cb/']],
    ['broken JSON falls back to lines', '["https://a/cb"', ['["https://a/cb"']],
  ] as const)('%s', (_name, text, expected) => {
    expect(splitPastedUris(text)).toEqual(expected);
  });
});

describe('diagnosis input limits (redirect URI diagnosis)', () => {
  const pasted = (registeredUris: string | string[], redirectUri = 'https://app.example.com/cb') => diagnosisInputSchema.safeParse({ mode: 'pasted', redirectUri, registeredUris });
  const uri = (length: number) => `https://a.example/${'x'.repeat(length - 'https://a.example/'.length)}`;

  it('takes 50 registered URIs of 2,048 characters, as lines or as an array', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `${uri(2044)}/${String(i).padStart(3, '0')}`);
    expect(fifty.every((u) => u.length === 2048)).toBe(true);
    expect(pasted(fifty).success).toBe(true);
    expect(pasted(fifty.slice(0, 15).join('\n')).success).toBe(true); // 15 × 2,049 characters fit in the 32,000 of the text box
    expect(pasted(`  ${uri(2048)}  \n`, `  ${uri(2048)}\n`).success).toBe(true); // surrounding whitespace is not counted
  });

  it.each([
    ['51 lines', Array.from({ length: 51 }, (_, i) => `https://a.example/${i}`).join('\n'), 'Paste at most 50 registered redirect URIs (there are 51).'],
    ['a JSON array of 51', JSON.stringify(Array.from({ length: 51 }, (_, i) => `https://a.example/${i}`)), 'Paste at most 50 registered redirect URIs (there are 51).'],
    ['an array of 51', Array.from({ length: 51 }, (_, i) => `https://a.example/${i}`), 'Paste at most 50 registered redirect URIs (there are 51).'],
    ['a line of 2,049 characters', `https://a.example/cb\n${uri(2049)}`, 'Registered redirect URI 2 is too long (2,048 characters at most).'],
    ['an array item of 2,049 characters', [uri(2049)], 'Registered redirect URI 1 is too long (2,048 characters at most).'],
    ['a text of 32,001 characters', 'x'.repeat(32_001), 'The pasted registered URIs are too long (32,000 characters at most).'],
  ])('refuses %s, naming the limit', (_name, registered, message) => {
    const result = pasted(registered);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: ['registeredUris'], message });
  });

  it('keeps a typed redirect URI exactly as typed, surrounding whitespace included (the comparator explains it); a blank one is refused', () => {
    for (const redirectUri of ['https://app.example.com/cb ', ' https://app.example.com/cb', 'https://app.example.com/cb\n']) {
      expect(diagnosisInputSchema.parse({ mode: 'client', clientId: 'abc', redirectUri })).toMatchObject({ redirectUri });
      expect(diagnosisInputSchema.parse({ mode: 'pasted', redirectUri, registeredUris: 'https://app.example.com/cb' })).toMatchObject({ redirectUri });
    }
    for (const redirectUri of ['', '   ', '\n']) {
      expect(diagnosisInputSchema.safeParse({ mode: 'client', clientId: 'abc', redirectUri }).error?.issues[0]).toMatchObject({ path: ['redirectUri'], message: 'Enter the redirect URI the app sends.' });
    }
  });

  it('refuses a typed redirect URI of 2,049 characters, naming the limit', () => {
    const result = diagnosisInputSchema.safeParse({ mode: 'client', clientId: 'abc', redirectUri: uri(2049) });
    expect(result.error?.issues[0]).toMatchObject({ path: ['redirectUri'], message: 'That redirect URI is too long (2,048 characters at most).' });
    expect(diagnosisInputSchema.safeParse({ mode: 'client', clientId: 'abc', redirectUri: uri(2048) }).success).toBe(true);
  });
});
