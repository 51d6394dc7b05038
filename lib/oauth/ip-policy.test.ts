import { describe, expect, it } from 'vitest';

import { AppError } from '@/lib/errors';
import { classifyHostname, classifyIp, normalizeIp, parseIpLiteral } from '@/lib/oauth/ip-policy';

describe('parseIpLiteral', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1', 4],
    ['2130706433', '127.0.0.1', 4],
    ['0x7f000001', '127.0.0.1', 4],
    ['017700000001', '127.0.0.1', 4],
    ['0177.0.0.1', '127.0.0.1', 4],
    ['0x7f.1', '127.0.0.1', 4],
    ['127.1', '127.0.0.1', 4],
    ['127.0.1', '127.0.0.1', 4],
    ['127.0.0.1.', '127.0.0.1', 4],
    ['%31%32%37.0.0.1', '127.0.0.1', 4],
    ['１２７.０.０.１', '127.0.0.1', 4],
    ['127。0。0。1', '127.0.0.1', 4],
    ['0', '0.0.0.0', 4],
    ['[::1]', '::1', 6],
    ['0:0:0:0:0:0:0:1', '::1', 6],
    ['[::FFFF:127.0.0.1]', '::ffff:7f00:1', 6],
    // RFC 4291 IPv4-compatible, not IPv4-mapped (ipaddr.js alone would say ::ffff:7f00:1).
    ['::127.0.0.1', '::7f00:1', 6],
    ['[2001:DB8:0:0:0:0:0:1]', '2001:db8::1', 6],
  ] as const)('reads %s as %s', (input, address, family) => {
    expect(parseIpLiteral(input)).toEqual({ address, family });
  });

  it('keeps the zone id of a scoped IPv6 address, raw or percent-encoded as in a URL', () => {
    expect(parseIpLiteral('fe80::1%eth0')).toEqual({ address: 'fe80::1', family: 6, zoneId: 'eth0' });
    expect(parseIpLiteral('[fe80::1%25eth0]')).toEqual({ address: 'fe80::1', family: 6, zoneId: 'eth0' });
  });

  it.each(['example.com', 'hospital.test', '127.0.0.1.nip.io', '1.2.3.4.5', '256.0.0.1', '09.0.0.1', '[127.0.0.1]', '', 'cafe.face'])(
    'does not take %j for an IP literal',
    (input) => {
      expect(parseIpLiteral(input)).toBeNull();
    },
  );
});

describe('classifyIp', () => {
  it.each([
    // IPv4
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'cloud-metadata'],
    ['100.100.100.200', 'cloud-metadata'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['100.127.255.255', 'carrier-grade-nat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.0.1', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmark'],
    ['198.19.255.255', 'benchmark'],
    ['240.0.0.1', 'reserved'],
    // IPv6
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'cloud-metadata'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2001:2::1', 'benchmark'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
  ] as const)('refuses %s as %s', (address, reason) => {
    expect(classifyIp(address)).toMatchObject({ allowed: false, reason });
  });

  it.each([
    ['::ffff:127.0.0.1', 'ipv4-mapped', '127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'ipv4-mapped', '169.254.169.254', 'cloud-metadata'],
    ['::ffff:0:10.0.0.1', 'ipv4-translated', '10.0.0.1', 'private'],
    ['::127.0.0.1', 'ipv4-compatible', '127.0.0.1', 'loopback'],
    ['::a00:1', 'ipv4-compatible', '10.0.0.1', 'private'],
    ['2002:7f00:1::', '6to4', '127.0.0.1', 'loopback'],
    ['2002:a9fe:a9fe::1', '6to4', '169.254.169.254', 'cloud-metadata'],
    ['64:ff9b::127.0.0.1', 'nat64', '127.0.0.1', 'loopback'],
    ['64:ff9b::c0a8:101', 'nat64', '192.168.1.1', 'private'],
    ['64:ff9b:1::a00:1', 'nat64-local', '10.0.0.1', 'private'],
    // Teredo: client address is stored inverted (~0x80fffffe = 127.0.0.1).
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'teredo-client', '127.0.0.1', 'loopback'],
    // Public client 8.8.8.8 (~f7f7:f7f7), loopback server in bits 32-63.
    ['2001:0:7f00:1::f7f7:f7f7', 'teredo-server', '127.0.0.1', 'loopback'],
  ] as const)('re-checks the IPv4 address inside %s (%s)', (address, form, ipv4, reason) => {
    expect(classifyIp(address)).toMatchObject({ allowed: false, reason, embedded: { form, ipv4 } });
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.32.0.1', // just past 172.16/12
    '100.128.0.1', // just past 100.64/10
    '169.253.255.255',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '2002:808:808::1',
    '64:ff9b::808:808',
    '2001:0:808:808::f7f7:f7f7',
  ])('allows the public address %s', (address) => {
    expect(classifyIp(address)).toMatchObject({ allowed: true });
  });

  it('refuses a public IPv6 address pinned to an interface by a zone id', () => {
    expect(classifyIp('2606:4700::1%eth0')).toMatchObject({ allowed: false, reason: 'scoped' });
  });

  it('rejects text that is not an IP address with INVALID', () => {
    expect(() => classifyIp('example.com')).toThrow(AppError);
    expect(() => classifyIp('example.com')).toThrow(/not an IP address/);
  });
});

describe('classifyHostname after WHATWG URL parsing', () => {
  // The URL parser already rewrites every IPv4 spelling to dotted quad and compresses IPv6, so
  // what reaches the policy is canonical; these rows pin that assumption.
  it.each([
    ['http://2130706433/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://%31%32%37.0.0.1/', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', '[::ffff:7f00:1]'],
    ['http://[::127.0.0.1]/', '[::7f00:1]'],
  ])('%s has hostname %s and is refused', (href, hostname) => {
    const url = new URL(href);
    expect(url.hostname).toBe(hostname);
    expect(classifyHostname(url.hostname)).toMatchObject({ allowed: false });
  });

  it('returns null for a DNS name, which must be resolved and its answers checked', () => {
    expect(classifyHostname('as.hospital.example')).toBeNull();
  });
});

describe('normalizeIp', () => {
  it('turns an IPv4-mapped address into the IPv4 address the kernel would use', () => {
    expect(normalizeIp('::ffff:10.1.2.3')).toEqual({ address: '10.1.2.3', family: 4 });
    expect(normalizeIp('::7f00:1')).toEqual({ address: '::7f00:1', family: 6 });
  });
});
