import { describe, expect, it } from 'vitest';
import { parseAuthorizationRequestUrl } from './parse-request';
import { diagnosisQueryString, parseDiagnoseSearchParams, splitPastedUris } from './schemas';

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
