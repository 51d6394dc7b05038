import { describe, expect, it } from 'vitest';

import { validateRedirectUri, validateRedirectUris, type RedirectFindingCode } from '@/lib/redirect-uris';

type AppType = 'web' | 'native' | undefined;
type Expected = Array<[RedirectFindingCode, 'error' | 'warning' | 'info']>;

const codes = (raw: string, applicationType: AppType) =>
  validateRedirectUri(raw, applicationType ? { applicationType } : undefined).map((f) => [f.code, f.severity]);

describe('validateRedirectUri accepts', () => {
  it.each<[string, AppType]>([
    ['https://app.example.com/callback', undefined],
    ['https://app.example.com/callback', 'web'],
    ['https://app.example.com/callback/', 'web'],
    ['https://app.example.com', 'web'],
    ['https://app.example.com:8443/smart/Callback', 'web'],
    ['https://[2001:db8::1]/cb', 'web'],
    ['https://app.example.com/a%20b', 'web'],
    ['http://127.0.0.1/callback', 'native'],
    ['http://127.0.0.1:51004/oauth2redirect/example-provider', 'native'],
    ['http://[::1]:61023/oauth2redirect/example-provider', 'native'],
    ['http://[::1]/cb', undefined],
    ['https://127.0.0.1:8443/cb', 'web'],
    ['com.example.app:/oauth2redirect/example-provider', 'native'],
    ['com.example.app:/callback', undefined],
    ['net.usercontent.client1234:/cb', 'native'],
  ])('%s (%s)', (raw, applicationType) => {
    expect(codes(raw, applicationType)).toEqual([]);
  });
});

describe('validateRedirectUri flags', () => {
  it.each<[string, AppType, Expected]>([
    ['', undefined, [['EMPTY', 'error']]],
    ['   ', undefined, [['EMPTY', 'error']]],
    [' https://app.example.com/cb', 'web', [['WHITESPACE', 'error']]],
    ['https://app.example.com/cb ', 'web', [['WHITESPACE', 'error']]],
    ['\thttps://app.example.com/cb\n', 'web', [['WHITESPACE', 'error']]],
    ['https://app.example.com/my callback', 'web', [['UNPARSEABLE', 'error']]],
    ['https://app.example.com/cb\\evil', 'web', [['UNPARSEABLE', 'error']]],
    ['https://app.example.com/%zz', 'web', [['UNPARSEABLE', 'error']]],
    ['https://app.example.com/100%', 'web', [['UNPARSEABLE', 'error']]],
    ['https://bücher.example/cb', 'web', [['UNPARSEABLE', 'error']]],
    ['https://app.example.com:99999/cb', 'web', [['UNPARSEABLE', 'error']]],
    ['https://app.example.com:http/cb', 'web', [['UNPARSEABLE', 'error']]],
    ['https://[::1/cb', 'web', [['UNPARSEABLE', 'error']]],
    ['https:///cb', 'web', [['UNPARSEABLE', 'error']]],
    ['https://', 'web', [['UNPARSEABLE', 'error']]],
    ['https:/app.example.com/cb', 'web', [['UNPARSEABLE', 'error']]],
    ['/callback', 'web', [['NOT_ABSOLUTE', 'error']]],
    ['app.example.com/callback', 'web', [['NOT_ABSOLUTE', 'error']]],
    ['//app.example.com/callback', 'web', [['NOT_ABSOLUTE', 'error']]],
    ['https://app.example.com/cb#', 'web', [['FRAGMENT', 'error']]],
    ['https://app.example.com/cb#done', 'web', [['FRAGMENT', 'error']]],
    ['https://*.example.com/cb', 'web', [['WILDCARD', 'error']]],
    ['https://app.example.com/*', 'web', [['WILDCARD', 'error']]],
    ['https://app.example.com/cb?x=*', 'web', [['WILDCARD', 'error'], ['QUERY_PRESENT', 'warning']]],
    ['http://127.0.0.1:*/cb', 'native', [['WILDCARD', 'error'], ['UNPARSEABLE', 'error']]],
    ['http://app.example.com/cb', 'web', [['INSECURE_HTTP', 'error']]],
    ['http://app.example.com/cb', 'native', [['INSECURE_HTTP', 'error']]],
    ['http://app.example.com/cb', undefined, [['INSECURE_HTTP', 'error']]],
    ['http://10.0.0.5/cb', 'native', [['INSECURE_HTTP', 'error']]],
    ['http://127.0.0.2/cb', 'native', [['INSECURE_HTTP', 'error']]],
    ['http://[0:0:0:0:0:0:0:1]/cb', 'native', [['INSECURE_HTTP', 'error']]],
    ['HTTP://app.example.com/cb', 'web', [['INSECURE_HTTP', 'error']]],
    ['http://127.0.0.1/cb', 'web', [['INSECURE_HTTP', 'error']]],
    ['http://[::1]:8080/cb', 'web', [['INSECURE_HTTP', 'error']]],
    ['http://localhost:3000/cb', 'native', [['LOCALHOST_NOT_LOOPBACK_IP', 'warning'], ['INSECURE_HTTP', 'error']]],
    ['http://localhost/cb', undefined, [['LOCALHOST_NOT_LOOPBACK_IP', 'warning'], ['INSECURE_HTTP', 'error']]],
    ['http://LOCALHOST:3000/cb', 'native', [['LOCALHOST_NOT_LOOPBACK_IP', 'warning'], ['INSECURE_HTTP', 'error']]],
    ['http://app.localhost/cb', 'native', [['LOCALHOST_NOT_LOOPBACK_IP', 'warning'], ['INSECURE_HTTP', 'error']]],
    ['http://localhost:3000/cb', 'web', [['LOCALHOST_NOT_LOOPBACK_IP', 'warning'], ['INSECURE_HTTP', 'error']]],
    ['https://localhost:3000/cb', 'web', [['LOCALHOST_NOT_LOOPBACK_IP', 'warning']]],
    ['myapp://cb', 'native', [['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
    ['myapp:/callback', 'native', [['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
    ['com.:/callback', 'native', [['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
    ['com..example:/callback', 'native', [['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
    ['com.example.:/callback', 'native', [['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
    ['.example:/callback', 'native', [['NOT_ABSOLUTE', 'error']]],
    ['https://a[b].example/cb', 'web', [['UNPARSEABLE', 'error']]],
    ['urn:ietf:wg:oauth:2.0:oob', 'native', [['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
    ['javascript:alert(1)', 'web', [['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
    ['https://user:pass@app.example.com/cb', 'web', [['CREDENTIALS', 'error']]],
    ['https://user@app.example.com/cb', 'web', [['CREDENTIALS', 'error']]],
    ['com.example.app://user@host/cb', 'native', [['CREDENTIALS', 'error']]],
    ['https://app.example.com/cb?tenant=a', 'web', [['QUERY_PRESENT', 'warning']]],
    ['https://app.example.com/cb?', 'web', [['QUERY_PRESENT', 'warning']]],
    ['com.example.app:/cb?x=1', 'native', [['QUERY_PRESENT', 'warning']]],
    // several problems at once
    [' http://user:pw@app.example.com/cb?x=1#frag', 'web', [['WHITESPACE', 'error'], ['FRAGMENT', 'error'], ['CREDENTIALS', 'error'], ['INSECURE_HTTP', 'error'], ['QUERY_PRESENT', 'warning']]],
    ['myapp://*/cb#x', 'native', [['WILDCARD', 'error'], ['FRAGMENT', 'error'], ['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', 'error']]],
  ])('%j (%s)', (raw, applicationType, expected) => {
    expect(codes(raw, applicationType)).toEqual(expected);
  });
});

describe('validateRedirectUri findings say how to fix the problem', () => {
  it.each<[string, AppType, RedirectFindingCode, RegExp]>([
    [' https://app.example.com/cb ', 'web', 'WHITESPACE', /https:\/\/app\.example\.com\/cb$/],
    ['http://app.example.com/cb?x=1', 'web', 'INSECURE_HTTP', /https:\/\/app\.example\.com\/cb\?x=1/],
    ['http://localhost:3000/cb', 'native', 'LOCALHOST_NOT_LOOPBACK_IP', /http:\/\/127\.0\.0\.1:3000\/cb/],
    ['http://localhost:3000/cb?x=1', 'native', 'INSECURE_HTTP', /http:\/\/127\.0\.0\.1:3000\/cb\?x=1/],
    ['https://app.example.com/cb#x', 'web', 'FRAGMENT', /https:\/\/app\.example\.com\/cb$/],
    ['https://u:p@app.example.com/cb', 'web', 'CREDENTIALS', /u:p@/],
    ['myapp://cb', 'native', 'PRIVATE_SCHEME_NOT_REVERSE_DOMAIN', /com\.example\.myapp:\/callback/],
    ['//app.example.com/cb', 'web', 'NOT_ABSOLUTE', /https:\/\/app\.example\.com\/cb/],
  ])('%j → %s', (raw, applicationType, code, fix) => {
    const finding = validateRedirectUri(raw, applicationType ? { applicationType } : {}).find((f) => f.code === code);
    expect(finding).toBeDefined();
    expect(finding?.fix).toMatch(fix);
    expect(finding?.message.length).toBeGreaterThan(20);
  });
});

describe('validateRedirectUris', () => {
  it('keeps order and index, and flags exact duplicates after the first', () => {
    const result = validateRedirectUris(['https://a.example/cb', 'https://a.example/cb/', 'https://a.example/cb', 'myapp://x', 'https://a.example/cb']);
    expect(result.map((r) => [r.index, r.uri, r.findings.map((f) => f.code)])).toEqual([
      [0, 'https://a.example/cb', []],
      [1, 'https://a.example/cb/', []],
      [2, 'https://a.example/cb', ['DUPLICATE']],
      [3, 'myapp://x', ['PRIVATE_SCHEME_NOT_REVERSE_DOMAIN']],
      [4, 'https://a.example/cb', ['DUPLICATE']],
    ]);
    expect(result[2]?.findings[0]).toMatchObject({ severity: 'warning', message: expect.stringContaining('entry 1') });
  });

  it('does not call a whitespace variant a duplicate (it is flagged as whitespace instead)', () => {
    const result = validateRedirectUris(['https://a.example/cb', 'https://a.example/cb ']);
    expect(result[1]?.findings.map((f) => f.code)).toEqual(['WHITESPACE']);
  });

  it('passes the application type through', () => {
    expect(validateRedirectUris(['http://127.0.0.1/cb'], { applicationType: 'web' })[0]?.findings.map((f) => f.code)).toEqual(['INSECURE_HTTP']);
    expect(validateRedirectUris(['http://127.0.0.1/cb'], { applicationType: 'native' })[0]?.findings).toEqual([]);
  });

  it('returns an empty list for no URIs', () => {
    expect(validateRedirectUris([])).toEqual([]);
  });
});
