import 'server-only';

import ipaddr from 'ipaddr.js';

import { AppError } from '@/lib/errors';

/**
 * Which IP addresses the registrar may connect to when it calls an authorization server.
 * Everything that is not plainly public unicast is refused, with a reason an admin can act on.
 * IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, NAT64, Teredo) are refused
 * when the IPv4 address inside would be.
 */

export const IP_REFUSAL_REASONS = [
  'loopback',
  'unspecified',
  'private',
  'link-local',
  'carrier-grade-nat',
  'cloud-metadata',
  'multicast',
  'broadcast',
  'reserved',
  'documentation',
  'benchmark',
  'scoped',
] as const;

export type IpRefusalReason = (typeof IP_REFUSAL_REASONS)[number];

export type EmbeddedIpv4Form =
  | 'ipv4-mapped'
  | 'ipv4-translated'
  | 'ipv4-compatible'
  | 'nat64'
  | 'nat64-local'
  | '6to4'
  | 'teredo-server'
  | 'teredo-client';

export type IpFamily = 4 | 6;

export type IpVerdict =
  | { allowed: true; address: string; family: IpFamily }
  | {
      allowed: false;
      address: string;
      family: IpFamily;
      reason: IpRefusalReason;
      /** Set when the refusal comes from an IPv4 address carried inside an IPv6 one. */
      embedded?: { form: EmbeddedIpv4Form; ipv4: string };
    };

export type IpLiteral = {
  /** Canonical spelling: dotted-quad IPv4, RFC 5952 IPv6 (no brackets, no zone). */
  address: string;
  family: IpFamily;
  zoneId?: string;
};

type Range = { cidr: [ipaddr.IPv4 | ipaddr.IPv6, number]; reason: IpRefusalReason };

function ranges(list: ReadonlyArray<readonly [string, IpRefusalReason]>): Range[] {
  return list.map(([cidr, reason]) => ({ cidr: ipaddr.parseCIDR(cidr), reason }));
}

// First match wins, so the specific entries (metadata endpoints) come before the ranges holding them.
const IPV4_RANGES = ranges([
  ['169.254.169.254/32', 'cloud-metadata'], // AWS, GCP, Azure, OpenStack, DigitalOcean
  ['100.100.100.200/32', 'cloud-metadata'], // Alibaba Cloud
  ['192.0.0.192/32', 'cloud-metadata'], // Oracle Cloud
  ['168.63.129.16/32', 'cloud-metadata'], // Azure wire server: public-looking but host-internal
  ['169.254.170.2/32', 'cloud-metadata'], // AWS ECS task credentials
  ['169.254.170.23/32', 'cloud-metadata'], // AWS EKS Pod Identity
  ['0.0.0.0/32', 'unspecified'],
  ['0.0.0.0/8', 'reserved'],
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['169.254.0.0/16', 'link-local'],
  ['100.64.0.0/10', 'carrier-grade-nat'],
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'documentation'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['198.18.0.0/15', 'benchmark'],
  ['192.88.99.0/24', 'reserved'], // deprecated 6to4 relay anycast
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
]);

const IPV6_RANGES = ranges([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fd00:ec2::254/128', 'cloud-metadata'], // AWS IMDS over IPv6
  ['fd00:ec2::23/128', 'cloud-metadata'], // AWS EKS Pod Identity over IPv6
  ['ff00::/8', 'multicast'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'private'], // deprecated site-local
  ['fc00::/7', 'private'], // unique local
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['2001:2::/48', 'benchmark'],
  ['100::/64', 'reserved'], // discard-only
  ['2001:10::/28', 'reserved'], // ORCHID
  ['2001:20::/28', 'reserved'], // ORCHIDv2
]);

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

const parsedCidrs = new Map<string, [ipaddr.IPv4 | ipaddr.IPv6, number]>();
function cidrCache(cidr: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  let parsed = parsedCidrs.get(cidr);
  if (!parsed) parsedCidrs.set(cidr, (parsed = ipaddr.parseCIDR(cidr)));
  return parsed;
}

function v4FromBytes(bytes: readonly number[]): ipaddr.IPv4 {
  return new ipaddr.IPv4([...bytes]);
}

/** The IPv4 addresses an IPv6 address carries, most common interpretation first. */
function embeddedIpv4(v6: ipaddr.IPv6): Array<{ form: EmbeddedIpv4Form; ipv4: ipaddr.IPv4 }> {
  const b = v6.toByteArray();
  const last32 = v4FromBytes(b.slice(12, 16));
  const within = (cidr: string) => v6.match(cidrCache(cidr));

  if (within('::ffff:0:0/96')) return [{ form: 'ipv4-mapped', ipv4: last32 }];
  if (within('::ffff:0:0:0/96')) return [{ form: 'ipv4-translated', ipv4: last32 }];
  // ::/96 minus :: and ::1, which the range table names more precisely.
  if (within('::/96') && !within('::/127')) return [{ form: 'ipv4-compatible', ipv4: last32 }];
  if (within('64:ff9b::/96')) return [{ form: 'nat64', ipv4: last32 }];
  if (within('64:ff9b:1::/48')) {
    // RFC 8215 local-use prefix: the operator picks the prefix length, so the IPv4 address may sit
    // at any RFC 6052 §2.2 position. Every reading must be acceptable.
    return [
      last32, // /96
      v4FromBytes([b[9]!, b[10]!, b[11]!, b[12]!]), // /64
      v4FromBytes([b[7]!, b[9]!, b[10]!, b[11]!]), // /56
      v4FromBytes([b[6]!, b[7]!, b[9]!, b[10]!]), // /48
    ].map((ipv4) => ({ form: 'nat64-local' as const, ipv4 }));
  }
  if (within('2002::/16')) return [{ form: '6to4', ipv4: v4FromBytes(b.slice(2, 6)) }];
  if (within('2001::/32')) {
    // RFC 4380: server address in bits 32-63, client address stored bit-inverted in bits 96-127.
    return [
      { form: 'teredo-client', ipv4: v4FromBytes(b.slice(12, 16).map((x) => x ^ 0xff)) },
      { form: 'teredo-server', ipv4: v4FromBytes(b.slice(4, 8)) },
    ];
  }
  return [];
}

function matchRange(addr: ipaddr.IPv4 | ipaddr.IPv6, list: readonly Range[]): IpRefusalReason | undefined {
  for (const range of list) {
    if (addr.kind() === range.cidr[0].kind() && addr.match(range.cidr)) return range.reason;
  }
  return undefined;
}

function classifyV4(v4: ipaddr.IPv4): IpRefusalReason | undefined {
  return matchRange(v4, IPV4_RANGES);
}

const IPV4_COMPATIBLE_TEXT = /^::(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv6(text: string): ipaddr.IPv6 {
  // ipaddr.js reads "::a.b.c.d" as IPv4-mapped (::ffff:a.b.c.d); RFC 4291, WHATWG URL and the
  // kernel read it as IPv4-compatible (::a.b:c.d). Connect to what the text really says.
  const compat = IPV4_COMPATIBLE_TEXT.exec(text);
  if (compat) {
    const [a, b, c, d] = compat.slice(1).map(Number) as [number, number, number, number];
    if (Math.max(a, b, c, d) <= 255) return new ipaddr.IPv6([0, 0, 0, 0, 0, 0, (a << 8) | b, (c << 8) | d]);
  }
  return ipaddr.IPv6.parse(text);
}

/**
 * Parses an IP literal in any spelling a URL host or a resolver can carry: dotted, decimal
 * (2130706433), octal (0177.0.0.1), hex (0x7f.1), short (127.1), trailing dot, bracketed IPv6,
 * zone ids (fe80::1%eth0, [fe80::1%25eth0]), percent-encoded or full-width digits.
 * Returns null when the text is not an IP literal (i.e. a DNS name).
 */
export function parseIpLiteral(host: string): IpLiteral | null {
  let text = host.trim();
  if (text === '') return null;

  const bracketed = text.startsWith('[') && text.endsWith(']');
  if (bracketed) text = text.slice(1, -1);

  let zoneId: string | undefined;
  const percent = text.indexOf('%');
  if (percent !== -1 && text.includes(':')) {
    zoneId = text.slice(percent + 1);
    // Inside a URL the zone separator itself is percent-encoded ("%25").
    if (bracketed && zoneId.startsWith('25')) zoneId = zoneId.slice(2);
    text = text.slice(0, percent);
    if (zoneId === '') return null;
  }

  if (ipaddr.IPv6.isValid(text)) {
    const v6 = parseIpv6(text);
    return { address: v6.toRFC5952String(), family: 6, ...(zoneId ? { zoneId } : {}) };
  }
  if (bracketed || zoneId !== undefined) return null;

  // inet_aton spellings (what getaddrinfo would accept), with one trailing dot allowed.
  const v4Text = text.endsWith('.') ? text.slice(0, -1) : text;
  if (/^[0-9a-fx.]+$/i.test(v4Text) && ipaddr.IPv4.isValid(v4Text)) {
    return { address: ipaddr.IPv4.parse(v4Text).toString(), family: 4 };
  }

  // Let the WHATWG host parser undo percent-encoding, full-width digits and ideographic dots,
  // then look again. Only for text that cannot be anything but a host.
  if (!/[/?#@:\\[\]\s]/.test(text)) {
    try {
      const hostname = new URL(`http://${text}/`).hostname;
      if (hostname !== text && hostname !== text.toLowerCase()) return parseIpLiteral(hostname);
    } catch {
      return null;
    }
  }
  return null;
}

/** Classifies one IP address (any spelling parseIpLiteral accepts) as public or refused. */
export function classifyIp(address: string): IpVerdict {
  const literal = parseIpLiteral(address);
  if (!literal) throw new AppError('INVALID', `"${address}" is not an IP address.`);

  const addr = literal.family === 4 ? ipaddr.IPv4.parse(literal.address) : parseIpv6(literal.address);
  const family = literal.family;
  const base = { address: literal.address, family } as const;

  if (addr.kind() === 'ipv4') {
    const reason = classifyV4(addr as ipaddr.IPv4);
    if (reason) return { ...base, allowed: false, reason };
  } else {
    const v6 = addr as ipaddr.IPv6;
    const reason = matchRange(v6, IPV6_RANGES);
    if (reason) return { ...base, allowed: false, reason };
    const embedded = embeddedIpv4(v6);
    for (const { form, ipv4 } of embedded) {
      const inner = classifyV4(ipv4);
      if (inner) return { ...base, allowed: false, reason: inner, embedded: { form, ipv4: ipv4.toString() } };
    }
    // Mapped/compatible/translated forms live outside 2000::/3 but are as public as their IPv4.
    if (embedded.length === 0 && !v6.match(GLOBAL_UNICAST_V6)) {
      return { ...base, allowed: false, reason: 'reserved' };
    }
  }

  // A zone id pins the connection to one local interface: never a public destination.
  if (literal.zoneId !== undefined) return { ...base, allowed: false, reason: 'scoped' };
  return { ...base, allowed: true };
}

/** Classifies a URL hostname when it is an IP literal; null means "a DNS name, resolve it first". */
export function classifyHostname(hostname: string): IpVerdict | null {
  return parseIpLiteral(hostname) ? classifyIp(hostname) : null;
}

export function isPublicIp(address: string): boolean {
  return parseIpLiteral(address) !== null && classifyIp(address).allowed;
}

/**
 * The address to connect to and to compare against allowlists: IPv4-mapped IPv6 becomes plain
 * IPv4 (the kernel would connect to that IPv4 address anyway).
 */
export function normalizeIp(address: string): IpLiteral | null {
  const literal = parseIpLiteral(address);
  if (!literal || literal.family === 4) return literal;
  const v6 = parseIpv6(literal.address);
  if (v6.isIPv4MappedAddress()) return { address: v6.toIPv4Address().toString(), family: 4 };
  return literal;
}

const REASON_TEXT: Record<IpRefusalReason, string> = {
  loopback: 'a loopback address',
  unspecified: 'the unspecified address',
  private: 'a private-network address',
  'link-local': 'a link-local address',
  'carrier-grade-nat': 'a carrier-grade NAT address',
  'cloud-metadata': 'a cloud metadata endpoint',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved address',
  documentation: 'a documentation-only address',
  benchmark: 'a benchmarking-only address',
  scoped: 'an interface-scoped address',
};

const FORM_TEXT: Record<EmbeddedIpv4Form, string> = {
  'ipv4-mapped': 'IPv4-mapped',
  'ipv4-translated': 'IPv4-translated',
  'ipv4-compatible': 'IPv4-compatible',
  nat64: 'NAT64',
  'nat64-local': 'local-use NAT64',
  '6to4': '6to4',
  'teredo-server': 'Teredo server',
  'teredo-client': 'Teredo client',
};

/** "10.0.0.5 is a private-network address" — for error messages. */
export function describeIpVerdict(verdict: IpVerdict): string {
  if (verdict.allowed) return `${verdict.address} is a public address`;
  const what = REASON_TEXT[verdict.reason];
  if (verdict.embedded) {
    return `${verdict.address} carries ${verdict.embedded.ipv4} (${FORM_TEXT[verdict.embedded.form]}), ${what}`;
  }
  return `${verdict.address} is ${what}`;
}
