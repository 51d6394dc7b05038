import { describe, expect, it } from 'vitest';

import { isAppError } from '@/lib/errors';
import {
  effectivePort,
  matchCidrEntries,
  matchHostEntries,
  parseAllowlist,
  parseAllowlistEntry,
} from '@/lib/oauth/allowlist';

describe('parseAllowlistEntry accepts', () => {
  it.each([
    ['as.hospital.example', { kind: 'host', host: 'as.hospital.example', allowHttp: false }],
    ['AS.Hospital.Example', { kind: 'host', host: 'as.hospital.example', allowHttp: false }],
    ['as.hospital.example:8443', { kind: 'host', host: 'as.hospital.example', port: 8443, allowHttp: false }],
    ['https://as.hospital.example', { kind: 'host', host: 'as.hospital.example', allowHttp: false }],
    ['http://as.hospital.example:8080', { kind: 'host', host: 'as.hospital.example', port: 8080, allowHttp: true }],
    ['HTTP://localhost:3000', { kind: 'host', host: 'localhost', port: 3000, allowHttp: true }],
    ['bücher.example', { kind: 'host', host: 'xn--bcher-kva.example', allowHttp: false }],
    ['127.0.0.1:8080', { kind: 'host', host: '127.0.0.1', port: 8080, allowHttp: false }],
    ['http://127.0.0.1:8080', { kind: 'host', host: '127.0.0.1', port: 8080, allowHttp: true }],
    ['[::1]:8443', { kind: 'host', host: '::1', port: 8443, allowHttp: false }],
    ['[FD00:0:0::5]:443', { kind: 'host', host: 'fd00::5', port: 443, allowHttp: false }],
    ['10.20.0.0/16', { kind: 'cidr', cidr: '10.20.0.0/16', allowHttp: false }],
    ['http://10.20.0.0/16', { kind: 'cidr', cidr: '10.20.0.0/16', allowHttp: true }],
    ['fd00:1::/48', { kind: 'cidr', cidr: 'fd00:1::/48', allowHttp: false }],
    ['[fd00:1::]/48', { kind: 'cidr', cidr: 'fd00:1::/48', allowHttp: false }],
    ['10.1.2.3', { kind: 'cidr', cidr: '10.1.2.3/32', allowHttp: false }],
    ['http://10.1.2.3', { kind: 'cidr', cidr: '10.1.2.3/32', allowHttp: true }],
    ['2130706433', { kind: 'cidr', cidr: '127.0.0.1/32', allowHttp: false }],
    ['fd00::5', { kind: 'cidr', cidr: 'fd00::5/128', allowHttp: false }],
    ['[fd00::5]', { kind: 'cidr', cidr: 'fd00::5/128', allowHttp: false }],
    ['  as.hospital.example  ', { kind: 'host', host: 'as.hospital.example', allowHttp: false, raw: 'as.hospital.example' }],
  ])('%j', (raw, expected) => {
    expect(parseAllowlistEntry(raw)).toMatchObject({ raw: raw.trim(), ...expected });
  });
});

describe('parseAllowlistEntry rejects with INVALID and says why', () => {
  it.each([
    ['', /the entry is empty/],
    ['   ', /the entry is empty/],
    ['ftp://as.hospital.example', /scheme "ftp:\/\/" is not supported/],
    ['http://', /host, IP address or CIDR range is missing/],
    ['as.hospital.example/path', /a path is not allowed/],
    ['https://as.hospital.example/', /a path is not allowed/],
    ['admin@as.hospital.example', /credentials \(user@\) are not allowed/],
    ['as.hospital.example?x=1', /a query or fragment is not allowed/],
    ['*.hospital.example', /wildcards are not supported/],
    ['as hospital.example', /whitespace/],
    ['as.hospital.example:0', /port 0 is out of range/],
    ['as.hospital.example:70000', /port 70000 is out of range/],
    ['as.hospital.example:http', /"http" is not a port number/],
    ['as.hospital.example:', /"" is not a port number/],
    [':8080', /the host is missing/],
    ['bad_host!.example', /is not a valid host name/],
    ['-leading.example', /is not a valid host name/],
    ['256.1.1.1', /"256.1.1.1" is not a valid IPv4 address/],
    ['10.0.0.0/33', /prefix length "\/33" must be a number from 1 to 32/],
    ['fd00::/129', /prefix length "\/129" must be a number from 1 to 128/],
    ['10.0.0.1/8', /host bits are set; did you mean 10\.0\.0\.0\/8\?/],
    ['fd00::1/64', /host bits are set; did you mean fd00::\/64\?/],
    ['0.0.0.0/0', /a \/0 range would allow every address/],
    ['10/8', /"10" is not an IPv4 \(a\.b\.c\.d\) or IPv6 network address/],
    ['host.example/8', /"host.example" is not an IPv4/],
    ['[::1', /the "\[" of an IPv6 address is not closed/],
    ['[not-v6]:80', /"not-v6" is not an IPv6 address/],
    ['[fe80::1%25eth0]:80', /zone ids are not allowed/],
    ['[::1]x', /unexpected "x" after the IPv6 address/],
    ['fd00::1::2', /write an IPv6 address with a port as \[address\]:port/],
  ])('%j', (raw, message) => {
    let caught: unknown;
    try {
      parseAllowlistEntry(raw);
    } catch (error) {
      caught = error;
    }
    expect(isAppError(caught) && caught.code).toBe('INVALID');
    expect((caught as Error).message).toMatch(message);
  });
});

describe('parseAllowlist', () => {
  it('splits on commas, trims and skips blank items', () => {
    const entries = parseAllowlist(' http://127.0.0.1:8080 ,, as.hospital.example ,10.0.0.0/8,');
    expect(entries.map((e) => e.raw)).toEqual(['http://127.0.0.1:8080', 'as.hospital.example', '10.0.0.0/8']);
  });

  it('returns an empty list for an empty string', () => {
    expect(parseAllowlist('')).toEqual([]);
    expect(parseAllowlist(' , ')).toEqual([]);
  });

  it('fails on the first bad entry, naming it', () => {
    expect(() => parseAllowlist('as.hospital.example, ftp://x.example')).toThrow(/"ftp:\/\/x\.example"/);
  });
});

describe('matching', () => {
  const list = parseAllowlist(
    'as.hospital.example, http://legacy.hospital.example:8080, 127.0.0.1:9000, [::1]:9001, http://10.20.0.0/16, fd00:1::/48',
  );

  it('matches a host entry case-insensitively, ignoring a trailing dot', () => {
    expect(matchHostEntries(list, 'AS.Hospital.Example', 443)).toHaveLength(1);
    expect(matchHostEntries(list, 'as.hospital.example.', 8443)).toHaveLength(1);
    expect(matchHostEntries(list, 'other.hospital.example', 443)).toHaveLength(0);
    expect(matchHostEntries(list, 'evil-as.hospital.example', 443)).toHaveLength(0);
  });

  it('matches a host entry with a port only on that port', () => {
    expect(matchHostEntries(list, 'legacy.hospital.example', 8080)).toMatchObject([{ allowHttp: true }]);
    expect(matchHostEntries(list, 'legacy.hospital.example', 80)).toHaveLength(0);
    expect(matchHostEntries(list, '127.0.0.1', 9000)).toHaveLength(1);
    expect(matchHostEntries(list, '127.0.0.1', 9002)).toHaveLength(0);
    expect(matchHostEntries(list, '[::1]', 9001)).toHaveLength(1);
  });

  it('uses the scheme default port when the URL has none', () => {
    expect(effectivePort(new URL('https://a.example/'))).toBe(443);
    expect(effectivePort(new URL('http://a.example/'))).toBe(80);
    expect(effectivePort(new URL('https://a.example:8443/'))).toBe(8443);
  });

  it('matches CIDR entries by address, including IPv4-mapped IPv6 answers', () => {
    expect(matchCidrEntries(list, '10.20.3.4')).toMatchObject([{ cidr: '10.20.0.0/16', allowHttp: true }]);
    expect(matchCidrEntries(list, '::ffff:10.20.3.4')).toHaveLength(1);
    expect(matchCidrEntries(list, '10.21.0.1')).toHaveLength(0);
    expect(matchCidrEntries(list, 'fd00:1:0:5::9')).toHaveLength(1);
    expect(matchCidrEntries(list, 'fd00:2::9')).toHaveLength(0);
    expect(matchCidrEntries(list, 'not-an-ip')).toHaveLength(0);
  });
});
