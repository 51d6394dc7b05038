import { describe, expect, it } from 'vitest';

import { compareRedirectUri, findClosestRegisteredUri, splitUri, type HighlightSegment, type MismatchCode } from '@/lib/redirect-uris';
import { removeDotSegments } from './compare';
import { diffChars, editDistance } from './text-diff';

const R = 'https://app.example.com/smart/callback';

describe('compareRedirectUri matches only exact strings', () => {
  it.each([
    [R],
    ['com.example.app:/oauth2redirect'],
    ['https://app.example.com/cb?b=2&a=1'],
    [' https://app.example.com/cb'], // a stray space on both sides is still byte-for-byte equal
    ['http://localhost:3000/cb'],
  ])('%j equals itself', (uri) => {
    expect(compareRedirectUri(uri, uri)).toEqual({ match: true, findings: [], highlight: [{ text: uri, kind: 'same' }], distance: 0 });
  });
});

describe('compareRedirectUri applies the loopback IP port exception (RFC 8252 §7.3)', () => {
  it.each([
    ['http://127.0.0.1:51004/cb', 'http://127.0.0.1/cb'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1:8080/cb'],
    ['http://127.0.0.1:51004/cb', 'http://127.0.0.1:8080/cb'],
    ['http://[::1]:61023/oauth2redirect/example-provider', 'http://[::1]/oauth2redirect/example-provider'],
    ['http://[::1]:61023/cb?x=1', 'http://[::1]:1/cb?x=1'],
    ['http://127.0.0.1:51004', 'http://127.0.0.1'],
  ])('%s vs %s', (presented, registered) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.match).toBe(true);
    expect(result.findings.map((f) => f.code)).toEqual(['LOOPBACK_PORT_ALLOWED']);
    expect(result.distance).toBeGreaterThan(0);
  });

  it.each<[string, string, MismatchCode[]]>([
    ['http://localhost:51004/cb', 'http://localhost/cb', ['PORT']],
    ['http://localhost:51004/cb', 'http://localhost:3000/cb', ['PORT']],
    ['https://127.0.0.1:8443/cb', 'https://127.0.0.1/cb', ['PORT']],
    ['http://127.0.0.1:51004/Cb', 'http://127.0.0.1/cb', ['LOOPBACK_PORT_ALLOWED', 'PATH_CASE']],
    ['http://127.0.0.1:51004/cb/', 'http://127.0.0.1/cb', ['LOOPBACK_PORT_ALLOWED', 'TRAILING_SLASH']],
    ['http://[::1]:51004/cb', 'http://127.0.0.1/cb', ['HOST', 'PORT']],
    ['http://localhost:51004/cb', 'http://127.0.0.1/cb', ['HOST', 'PORT']],
    ['HTTP://127.0.0.1:51004/cb', 'http://127.0.0.1/cb', ['SCHEME', 'PORT']],
  ])('no exception for %s vs %s', (presented, registered, codes) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.match).toBe(false);
    expect(result.findings.map((f) => f.code)).toEqual(codes);
  });

  it('tells that localhost does not get the exception', () => {
    const [finding] = compareRedirectUri('http://localhost:51004/cb', 'http://localhost/cb').findings;
    expect(finding?.message).toMatch(/not localhost/);
  });
});

describe('compareRedirectUri names every difference', () => {
  it.each<[string, string, string, MismatchCode[]]>([
    // one difference at a time
    ['trailing slash presented', `${R}/`, R, ['TRAILING_SLASH']],
    ['trailing slash registered', R, `${R}/`, ['TRAILING_SLASH']],
    ['root slash', 'https://app.example.com', 'https://app.example.com/', ['TRAILING_SLASH']],
    ['http vs https', 'http://app.example.com/smart/callback', R, ['SCHEME']],
    ['scheme case', 'HTTPS://app.example.com/smart/callback', R, ['SCHEME']],
    ['host case', 'https://App.Example.com/smart/callback', R, ['HOST_CASE']],
    ['other host', 'https://app.example.org/smart/callback', R, ['HOST']],
    ['host trailing dot', 'https://app.example.com./smart/callback', R, ['HOST']],
    ['default port written out', 'https://app.example.com:443/smart/callback', R, ['DEFAULT_PORT']],
    ['default port registered', R, 'https://app.example.com:443/smart/callback', ['DEFAULT_PORT']],
    ['http default port', 'http://app.example.com:80/cb', 'http://app.example.com/cb', ['DEFAULT_PORT']],
    ['other port', 'https://app.example.com:8443/smart/callback', R, ['PORT']],
    ['different ports', 'https://app.example.com:8443/cb', 'https://app.example.com:9443/cb', ['PORT']],
    ['empty port', 'https://app.example.com:/smart/callback', R, ['PORT']],
    ['Epic-style path case', 'https://app.example.com/SMART/Callback', R, ['PATH_CASE']],
    ['one letter of path case', 'https://app.example.com/smart/Callback', R, ['PATH_CASE']],
    ['other path', 'https://app.example.com/smart/redirect', R, ['PATH']],
    ['missing path segment', 'https://app.example.com/callback', R, ['PATH']],
    ['dot segment ..', 'https://app.example.com/smart/x/../callback', R, ['DOT_SEGMENT']],
    ['dot segment .', 'https://app.example.com/smart/./callback', R, ['DOT_SEGMENT']],
    ['percent-encoded vs literal', 'https://app.example.com/smart/call%62ack', R, ['PERCENT_ENCODING']],
    ['encoded space vs +', 'https://a.example/my%20app/cb', 'https://a.example/my+app/cb', ['PATH']],
    ['encoded UTF-8 vs literal', 'https://a.example/caf%C3%A9', 'https://a.example/café', ['PERCENT_ENCODING']],
    ['percent-escape hex case', 'https://a.example/a%2fb', 'https://a.example/a%2Fb', ['PERCENT_ENCODING_CASE']],
    ['double encoding', 'https://a.example/a%252Fb', 'https://a.example/a%2Fb', ['DOUBLE_ENCODING']],
    ['double encoding vs literal', 'https://a.example/a%252Fb', 'https://a.example/a/b', ['DOUBLE_ENCODING', 'PERCENT_ENCODING']],
    ['query missing', R, `${R}?tenant=a`, ['QUERY']],
    ['query extra', `${R}?tenant=a`, R, ['QUERY']],
    ['empty query', `${R}?`, R, ['QUERY']],
    ['query reordered', `${R}?b=2&a=1`, `${R}?a=1&b=2`, ['QUERY']],
    ['query value', `${R}?tenant=a`, `${R}?tenant=b`, ['QUERY']],
    ['query value case', `${R}?tenant=A`, `${R}?tenant=a`, ['QUERY']],
    ['query encoded', `${R}?next=%2Fhome`, `${R}?next=/home`, ['PERCENT_ENCODING']],
    ['query escape case', `${R}?next=%2fhome`, `${R}?next=%2Fhome`, ['PERCENT_ENCODING_CASE']],
    ['query double encoded', `${R}?next=%252Fhome`, `${R}?next=%2Fhome`, ['DOUBLE_ENCODING']],
    ['fragment presented', `${R}#`, R, ['FRAGMENT']],
    ['fragment differs', `${R}#a`, `${R}#b`, ['FRAGMENT']],
    ['fragment registered', R, `${R}#done`, ['FRAGMENT']],
    ['leading space presented', ` ${R}`, R, ['WHITESPACE']],
    ['trailing newline presented', `${R}\n`, R, ['WHITESPACE']],
    ['leading space registered (Epic sample)', R, ` ${R}`, ['WHITESPACE']],
    ['different whitespace on both', `${R} `, `${R}\t`, ['WHITESPACE']],
    ['userinfo', 'https://u@app.example.com/smart/callback', R, ['HOST']],
    ['private scheme path case', 'com.example.app:/Callback', 'com.example.app:/callback', ['PATH_CASE']],
    ['private scheme authority', 'com.example.app://callback', 'com.example.app:/callback', ['HOST', 'PATH']],
    ['private scheme differs', 'com.example.app2:/callback', 'com.example.app:/callback', ['SCHEME']],
    ['relative presented', '/smart/callback', R, ['SCHEME', 'HOST']],
    ['empty presented', '', R, ['SCHEME', 'HOST', 'PATH']],
    ['encoded space vs + in one segment, case in another', 'https://a.example/My/my%20app', 'https://a.example/my/my+app', ['PATH_CASE', 'PATH']],
    ['encoding fixes one segment, another differs', 'https://a.example/caf%C3%A9/one', 'https://a.example/café/two', ['PERCENT_ENCODING', 'PATH']],
    ['dot segment and a different segment', 'https://a.example/x/../one', 'https://a.example/two', ['DOT_SEGMENT', 'PATH']],
    // several at once
    ['host case + default port + path case + trailing slash + reordered query', 'https://App.Example.com:443/SMART/Callback/?b=2&a=1', `${R}?a=1&b=2`, ['HOST_CASE', 'DEFAULT_PORT', 'TRAILING_SLASH', 'PATH_CASE', 'QUERY']],
    ['scheme + trailing slash', 'http://app.example.com/smart/callback/', R, ['SCHEME', 'TRAILING_SLASH']],
    ['whitespace + path case', ` ${R.toUpperCase().replace('HTTPS://APP.EXAMPLE.COM', 'https://app.example.com')}`, R, ['WHITESPACE', 'PATH_CASE']],
    ['percent case + path case', 'https://a.example/A%2f', 'https://a.example/a%2F', ['PERCENT_ENCODING_CASE', 'PATH_CASE']],
    ['dot segment + trailing slash', 'https://app.example.com/smart/x/../callback/', R, ['DOT_SEGMENT', 'TRAILING_SLASH']],
    ['host + path + fragment', 'https://evil.example/steal#x', R, ['HOST', 'PATH', 'FRAGMENT']],
    ['path differs and slash differs', 'https://a.example/one/', 'https://a.example/two', ['TRAILING_SLASH', 'PATH']],
  ])('%s', (_name, presented, registered, codes) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.match).toBe(false);
    expect(result.findings.map((f) => f.code)).toEqual(codes);
    for (const f of result.findings) expect(f.message).toMatch(/^[A-Z].*[.)]$/);
  });
});

describe('compareRedirectUri messages', () => {
  it.each<[string, string, MismatchCode, string | RegExp]>([
    [`${R}/`, R, 'TRAILING_SLASH', 'The presented URI ends with a slash; the registered one does not.'],
    [R, `${R}/`, 'TRAILING_SLASH', 'The registered URI ends with a slash; the presented one does not.'],
    [`${R}/?x=1`, `${R}?x=1`, 'TRAILING_SLASH', "The presented URI's path ends with a slash; the registered one does not."],
    ['http://app.example.com/smart/callback', R, 'SCHEME', 'The presented URI uses http; the registered one uses https.'],
    ['https://app.example.com:443/smart/callback', R, 'DEFAULT_PORT', /presented URI writes out the default port :443/],
    ['https://App.example.com/smart/callback', R, 'HOST_CASE', /'App\.example\.com'.*'app\.example\.com'/],
    [`${R}?b=2&a=1`, `${R}?a=1&b=2`, 'QUERY', /same parameters in a different order/],
    [`${R}?a=1`, `${R}?a=1&b=2`, 'QUERY', "The presented query lacks 'b=2', which the registered URI has."],
    [`${R}?a=1&c=3`, `${R}?a=1`, 'QUERY', "The presented query has 'c=3', which the registered URI does not."],
    [`${R}?t=A`, `${R}?t=a`, 'QUERY', /letter case only/],
    [R, ` ${R}`, 'WHITESPACE', /registered URI has a space before it/],
    [`${R}\t\t`, R, 'WHITESPACE', /2 whitespace characters \(tab, tab\) after it/],
    ['https://a.example/a%252Fb', 'https://a.example/a%2Fb', 'DOUBLE_ENCODING', /encoded twice/],
    ['https://app.example.com/SMART/Callback', R, 'PATH_CASE', /'\/SMART\/Callback'.*'\/smart\/callback'/],
  ])('%j vs %j: %s', (presented, registered, code, message) => {
    const finding = compareRedirectUri(presented, registered).findings.find((f) => f.code === code);
    expect(finding).toBeDefined();
    if (typeof message === 'string') expect(finding?.message).toBe(message);
    else expect(finding?.message).toMatch(message);
  });
});

describe('compareRedirectUri highlight and distance', () => {
  const rebuild = (segments: HighlightSegment[], side: 'presented' | 'registered') =>
    segments
      .filter((s) => s.kind === 'same' || s.kind === `${side}-only`)
      .map((s) => s.text)
      .join('');

  it.each([
    [`${R}/`, R],
    ['https://App.Example.com:443/SMART/Callback/?b=2&a=1', `${R}?a=1&b=2`],
    [' http://127.0.0.1:51004/cb', 'http://127.0.0.1/cb'],
    ['', R],
    [R, ''],
    ['café', 'cafe\u0301'],
    ['😀/a', '😀/b'],
  ])('the highlight rebuilds both raw strings: %j vs %j', (presented, registered) => {
    const { highlight } = compareRedirectUri(presented, registered);
    expect(rebuild(highlight, 'presented')).toBe(presented);
    expect(rebuild(highlight, 'registered')).toBe(registered);
    for (let i = 1; i < highlight.length; i++) expect(highlight[i]?.kind).not.toBe(highlight[i - 1]?.kind);
  });

  it('marks exactly the extra slash', () => {
    expect(compareRedirectUri(`${R}/`, R).highlight).toEqual([
      { text: R, kind: 'same' },
      { text: '/', kind: 'presented-only' },
    ]);
  });

  it('marks a case change as registered-only then presented-only', () => {
    expect(compareRedirectUri('https://a.example/Cb', 'https://a.example/cb').highlight).toEqual([
      { text: 'https://a.example/', kind: 'same' },
      { text: 'c', kind: 'registered-only' },
      { text: 'C', kind: 'presented-only' },
      { text: 'b', kind: 'same' },
    ]);
  });

  it.each([
    [R, R, 0],
    [`${R}/`, R, 1],
    ['https://app.example.com/SMART/callback', R, 5],
    ['http://app.example.com/smart/callback', R, 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ])('distance(%j, %j) = %i', (presented, registered, distance) => {
    expect(compareRedirectUri(presented, registered).distance).toBe(distance);
  });

  it('handles very long strings without quadratic blow-up', () => {
    const a = `https://a.example/${'x'.repeat(5000)}`;
    const b = `https://a.example/${'y'.repeat(5000)}`;
    const { highlight, distance } = compareRedirectUri(a, b);
    expect(rebuild(highlight, 'presented')).toBe(a);
    expect(rebuild(highlight, 'registered')).toBe(b);
    expect(distance).toBe(5000);
  });
});

describe('findClosestRegisteredUri', () => {
  it('reports NOT_REGISTERED when nothing is registered', () => {
    expect(findClosestRegisteredUri(R, [])).toEqual({
      match: false,
      candidate: null,
      findings: [{ code: 'NOT_REGISTERED', message: expect.stringMatching(/No redirect URIs are registered/) }],
      highlight: [{ text: R, kind: 'presented-only' }],
      perCandidate: [],
    });
  });

  it('finds the exact match among several', () => {
    const result = findClosestRegisteredUri(R, ['https://other.example/cb', `${R}/`, R]);
    expect(result).toMatchObject({ match: true, candidate: R, findings: [] });
    expect(result.perCandidate).toEqual([
      { uri: 'https://other.example/cb', match: false, distance: expect.any(Number) },
      { uri: `${R}/`, match: false, distance: 1 },
      { uri: R, match: true, distance: 0 },
    ]);
  });

  it('prefers an exact match over a loopback-port match', () => {
    const result = findClosestRegisteredUri('http://127.0.0.1:5000/cb', ['http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb']);
    expect(result).toMatchObject({ match: true, candidate: 'http://127.0.0.1:5000/cb', findings: [] });
  });

  it('accepts a loopback-port match even when another candidate is closer by characters', () => {
    const result = findClosestRegisteredUri('http://127.0.0.1:51004/cb', ['http://127.0.0.1:51004/cc', 'http://127.0.0.1/cb']);
    expect(result.match).toBe(true);
    expect(result.candidate).toBe('http://127.0.0.1/cb');
    expect(result.findings.map((f) => f.code)).toEqual(['LOOPBACK_PORT_ALLOWED']);
  });

  it('explains the closest candidate when nothing matches (Epic-style path case)', () => {
    const result = findClosestRegisteredUri('https://app.example.com/SMART/callback', ['https://portal.example.com/launch', R, 'https://app.example.com/smart/launch']);
    expect(result.match).toBe(false);
    expect(result.candidate).toBe(R);
    expect(result.findings.map((f) => f.code)).toEqual(['PATH_CASE']);
    expect(result.highlight.some((s) => s.kind === 'presented-only' && s.text === 'SMART')).toBe(true);
    expect(result.perCandidate.map((c) => c.match)).toEqual([false, false, false]);
  });

  it('breaks distance ties by fewer findings, then list order', () => {
    // both are one character away; the trailing slash is a single finding, the port digit too
    const tie = findClosestRegisteredUri('https://a.example/cb', ['https://a.example/cb/', 'https://a.example/cc']);
    expect(tie.candidate).toBe('https://a.example/cb/');
    const order = findClosestRegisteredUri('https://a.example/cb', ['https://a.example/cc', 'https://a.example/cd']);
    expect(order.candidate).toBe('https://a.example/cc');
  });

  it('does not treat a whitespace-padded registration as a match', () => {
    const result = findClosestRegisteredUri(R, [` ${R}`]);
    expect(result.match).toBe(false);
    expect(result.findings.map((f) => f.code)).toEqual(['WHITESPACE']);
  });
});

describe('splitUri never normalises', () => {
  it.each([
    ['HTTPS://App.Example.com:443/a/../B/?q=1#f', { scheme: 'HTTPS', host: 'App.Example.com', port: '443', path: '/a/../B/', query: 'q=1', fragment: 'f' }],
    ['http://[::1]:8080/cb', { scheme: 'http', host: '[::1]', port: '8080', path: '/cb' }],
    ['http://u:p@h.example/cb', { userinfo: 'u:p', host: 'h.example', port: null }],
    ['com.example.app:/cb', { scheme: 'com.example.app', authority: null, host: null, path: '/cb' }],
    ['  https://a.example/\t', { leading: '  ', trailing: '\t', path: '/' }],
    ['/relative?x', { scheme: null, authority: null, path: '/relative', query: 'x' }],
    ['https://a.example', { host: 'a.example', path: '', query: null, fragment: null }],
    ['https://a.example?', { host: 'a.example', path: '', query: '' }],
  ])('%j', (raw, parts) => {
    expect(splitUri(raw)).toMatchObject(parts);
  });
});

describe('helpers', () => {
  it.each([
    ['/a/b/c/./../../g', '/a/g'],
    ['mid/content=5/../6', 'mid/6'],
    ['/a/../b', '/b'],
    ['/./cb', '/cb'],
    ['/..', '/'],
    ['/cb', '/cb'],
  ])('removeDotSegments(%j) = %j (RFC 3986 §5.2.4)', (input, output) => {
    expect(removeDotSegments(input)).toBe(output);
  });

  it('editDistance and diffChars agree on identical input', () => {
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(diffChars('abc', 'abc')).toEqual([{ text: 'abc', kind: 'same' }]);
    expect(diffChars('', '')).toEqual([]);
  });
});

describe('the loopback port exception needs a valid port (RFC 8252 §7.3; a server refuses an invalid one)', () => {
  it.each([
    ['http://127.0.0.1:abc/cb', 'http://127.0.0.1:8080/cb', /the presented URI's port 'abc' is not a valid port number/],
    ['http://127.0.0.1:99999/cb', 'http://127.0.0.1:8080/cb', /the presented URI's port '99999' is not a valid port number/],
    ['http://[::1]:123456/cb', 'http://[::1]/cb', /the presented URI's port '123456' is not a valid port number/],
    ['http://127.0.0.1:8080/cb', 'http://127.0.0.1:8o80/cb', /the registered URI's port '8o80' is not a valid port number/],
    ['http://127.0.0.1:-1/cb', 'http://127.0.0.1:+1/cb', /the presented URI's port '-1' and the registered URI's port '\+1' are not valid port numbers/],
  ])('%s vs %s is a PORT difference, not a match', (presented, registered, message) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.match).toBe(false);
    expect(result.findings.map((f) => f.code)).toEqual(['PORT']);
    expect(result.findings[0]?.message).toMatch(message);
    expect(result.findings[0]?.message).toMatch(/^[A-Z].*\.$/);
  });

  it('findClosestRegisteredUri does not report an invalid port as a loopback match', () => {
    for (const presented of ['http://127.0.0.1:abc/cb', 'http://127.0.0.1:99999/cb']) {
      const result = findClosestRegisteredUri(presented, ['http://127.0.0.1:8080/cb']);
      expect(result).toMatchObject({ match: false, candidate: 'http://127.0.0.1:8080/cb' });
      expect(result.findings.map((f) => f.code)).toEqual(['PORT']);
      expect(result.perCandidate).toEqual([{ uri: 'http://127.0.0.1:8080/cb', match: false, distance: expect.any(Number) }]);
    }
  });

  it.each([
    ['http://127.0.0.1:65535/cb', 'http://127.0.0.1:8080/cb'],
    ['http://127.0.0.1:1/cb', 'http://127.0.0.1:8080/cb'],
    ['http://127.0.0.1:00080/cb', 'http://127.0.0.1/cb'],
    ['http://127.0.0.1:/cb', 'http://127.0.0.1:8080/cb'],
    ['http://[::1]:49152/cb', 'http://[::1]:8080/cb'],
  ])('a valid variable port still matches: %s vs %s', (presented, registered) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.match).toBe(true);
    expect(result.findings.map((f) => f.code)).toEqual(['LOOPBACK_PORT_ALLOWED']);
    expect(findClosestRegisteredUri(presented, [registered]).match).toBe(true);
  });
});

describe('compareRedirectUri names invisible characters (Unicode Cf, Cc and look-alike spaces)', () => {
  const C = 'https://app.example.com/cb';

  it('a registered URI ending in U+200B is an INVISIBLE_CHARACTER difference that names it, not two paths that look the same', () => {
    // The same invisible characters at the same places on both sides are no finding of their own.
    expect(compareRedirectUri('https://app.example.com/c\u200Bb/', 'https://app.example.com/c\u200Bb').findings.map((f) => f.code)).toEqual(['TRAILING_SLASH']);

    const result = compareRedirectUri(C, `${C}\u200B`);
    expect(result.match).toBe(false);
    expect(result.findings).toEqual([
      {
        code: 'INVISIBLE_CHARACTER',
        message:
          'The registered URI contains an invisible character, U+200B ZERO WIDTH SPACE (a Unicode format character) at the end of the path; the presented one does not. It does not show on screen, but the server compares it like any other character.',
      },
    ]);
  });

  it.each<[string, string, string, RegExp, MismatchCode[]]>([
    ['a zero width joiner inside the path', 'https://app.example.com/c\u200Db', C, /presented URI contains an invisible character, U\+200D ZERO WIDTH JOINER \(a Unicode format character\) in the path, after '\/c'/, ['INVISIBLE_CHARACTER']],
    ['a soft hyphen in the host, and a trailing slash', 'https://app.exa\u00ADmple.com/cb/', C, /U\+00AD SOFT HYPHEN \(a Unicode format character\) in the host, after 'app\.exa'/, ['INVISIBLE_CHARACTER', 'TRAILING_SLASH']],
    ['a right-to-left override in the query', `${C}?x=\u202E1`, `${C}?x=1`, /U\+202E RIGHT-TO-LEFT OVERRIDE \(a Unicode format character\) in the query, after 'x='/, ['INVISIBLE_CHARACTER']],
    ['a control character in the path', 'https://app.example.com/c\u0000b', C, /U\+0000 NULL \(a control character\) in the path/, ['INVISIBLE_CHARACTER']],
    ['a no-break space in the path', 'https://app.example.com/my\u00A0app', 'https://app.example.com/myapp', /U\+00A0 NO-BREAK SPACE \(a space character other than the ordinary space\)/, ['INVISIBLE_CHARACTER']],
    ['the same character in another place', 'https://app.example.com/\u200Bcb', `${C}\u200B`, /Both URIs contain the invisible character U\+200B ZERO WIDTH SPACE .*, in different places: the presented one in the path, after '\/', the registered one at the end of the path\./, ['INVISIBLE_CHARACTER']],
  ])('%s', (_name, presented, registered, message, codes) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.match).toBe(false);
    expect(result.findings.map((f) => f.code)).toEqual(codes);
    expect(result.findings[0]?.message).toMatch(message);
    for (const f of result.findings) expect(f.message).toMatch(/^[A-Z].*[.)]$/);
  });

  it('names a byte order mark after the URI like other surrounding whitespace', () => {
    const [finding] = compareRedirectUri(`${C}\uFEFF`, C).findings;
    expect(finding).toEqual({ code: 'WHITESPACE', message: 'The presented URI has a U+FEFF ZERO WIDTH NO-BREAK SPACE (a Unicode format character, the byte order mark) after it; the registered one does not.' });
  });

  it('names at most five characters and counts the rest', () => {
    const [finding] = compareRedirectUri(`https://app.example.com/${'\u200B'.repeat(8)}cb`, C).findings;
    expect(finding?.message).toMatch(/^The presented URI contains 8 invisible characters: (U\+200B ZERO WIDTH SPACE .*?; ){5}and 3 more; the registered one does not\./);
  });
});

describe('compareRedirectUri explains an internationalised host written two ways (IDNA)', () => {
  // Different names get no such note.
  const otherNames = [
    ['https://bücher.example/cb', 'https://buecher.example/cb'],
    ['https://a\\b.example/cb', 'https://a/cb'],
    ['https://app.example.org/cb', 'https://app.example.com/cb'],
  ] as const;

  it.each([
    ['https://bücher.example/cb', 'https://xn--bcher-kva.example/cb', /written in Unicode in the presented URI and in punycode \(its ASCII form, xn--…\) in the registered one/],
    ['https://xn--bcher-kva.example/cb', 'https://bücher.example/cb', /written in punycode \(its ASCII form, xn--…\) in the presented URI and in Unicode in the registered one/],
    ['https://bücher.example/cb', 'https://bu\u0308cher.example/cb', /written two different ways \(Unicode normalisation, letter case or punycode\)/],
  ])('%s vs %s: the same name, and the server compares the string', (presented, registered, forms) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.match).toBe(false);
    expect(result.findings.map((f) => f.code)).toEqual(['HOST']);
    const message = result.findings[0]?.message ?? '';
    expect(message).toMatch(/They are the same internationalised domain name \(xn--bcher-kva\.example\)/);
    expect(message).toMatch(forms);
    expect(message).toMatch(/The server compares the exact string, not the name, so they do not match\.$/);
    for (const [p, r] of otherNames) expect(compareRedirectUri(p, r).findings[0]?.message).not.toMatch(/same internationalised domain name/);
  });
});

describe('compareRedirectUri explains query parameters that are repeated', () => {
  const B = 'https://a.example/cb';
  it.each<[string, string, string[]]>([
    [`${B}?a=1&a=1`, `${B}?a=1`, ["The presented query repeats a parameter: 'a=1' appears twice there and once in the registered URI."]],
    [`${B}?a=1`, `${B}?a=1&a=1&a=1`, ["The registered query repeats a parameter: 'a=1' appears 3 times there and once in the presented URI."]],
    [`${B}?a=1&a=1`, `${B}?a=1&a=2`, ["The presented query lacks 'a=2', which the registered URI has.", "The presented query repeats a parameter: 'a=1' appears twice there and once in the registered URI."]],
    [`${B}?a=1&a=2`, `${B}?a=1`, ["The presented query has 'a=2', which the registered URI does not. The parameter 'a' appears twice in the presented query and once in the registered one."]],
  ])('%s vs %s', (presented, registered, messages) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.findings).toEqual(messages.map((message) => ({ code: 'QUERY', message })));
    for (const m of messages) expect(m).not.toMatch(/which the registered URI does not\.$/);
  });
});

describe("compareRedirectUri explains '+' and '%20' as two spellings of a space in a query", () => {
  const B = 'https://a.example/cb';
  it.each([
    [`${B}?a=b+c`, `${B}?a=b%20c`, "The queries spell a space differently: the presented one writes '+', the registered one '%20'. Both mean a space in a query, but the server compares the exact string: presented 'a=b+c', registered 'a=b%20c'."],
    [`${B}?a=b%20c`, `${B}?a=b+c`, "The queries spell a space differently: the presented one writes '%20', the registered one '+'. Both mean a space in a query, but the server compares the exact string: presented 'a=b%20c', registered 'a=b+c'."],
  ])('%s vs %s: one finding naming both spellings (and none where a space explains nothing)', (presented, registered, message) => {
    const result = compareRedirectUri(presented, registered);
    expect(result.findings).toEqual([{ code: 'PERCENT_ENCODING', message }]);
    expect(JSON.stringify(result.findings)).not.toContain('a=b c');

    // Not where it explains nothing: '%2B' is a plus sign, not a space, and 'x' is no space at all.
    expect(compareRedirectUri(`${B}?a=1+1`, `${B}?a=1%2B1`).findings.map((f) => f.message).join(' ')).not.toMatch(/spell a space/);
    expect(compareRedirectUri(`${B}?a=b+c`, `${B}?a=bxc`).findings).toEqual([{ code: 'QUERY', message: "A query parameter differs: 'a' is 'a=b+c' presented but 'a=bxc' registered." }]);
  });
});
