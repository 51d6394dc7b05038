import 'server-only';

import ipaddr from 'ipaddr.js';

import { AppError } from '@/lib/errors';
import { normalizeIp, parseIpLiteral } from '@/lib/oauth/ip-policy';

/**
 * The outbound allowlist: exceptions to the IP policy for authorization servers that really live
 * on a hospital's internal network, and (with an `http://` prefix) permission to use plain http.
 *
 * - A host entry (`as.hospital.internal`, `as.hospital.internal:8443`, `127.0.0.1:8080`,
 *   `[fd00::5]:8443`) matches the URL's hostname, case-insensitively, and its port when one is
 *   given. It lets that host reach addresses the IP policy refuses (cloud metadata endpoints
 *   excepted, see safe-fetch) and, with `http://`, use plain http.
 * - A CIDR entry (`10.20.0.0/16`, `fd00:1::/48`, or a bare IP meaning /32 or /128) matches the
 *   addresses a host resolves to, or an IP-literal host. It lets those addresses through and,
 *   with `http://`, permits plain http to them.
 */
export type AllowlistEntry =
  | { kind: 'host'; host: string; port?: number; allowHttp: boolean; raw: string }
  | { kind: 'cidr'; cidr: string; allowHttp: boolean; raw: string };

export type HostAllowlistEntry = Extract<AllowlistEntry, { kind: 'host' }>;
export type CidrAllowlistEntry = Extract<AllowlistEntry, { kind: 'cidr' }>;

function invalid(raw: string, problem: string): AppError {
  return new AppError('INVALID', `Outbound allowlist entry "${raw}": ${problem}`, { entry: raw, field: 'entry' });
}

const DNS_NAME = /^(?=.{1,253}\.?$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?$/;

function parsePort(raw: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw invalid(raw, `"${text}" is not a port number.`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw invalid(raw, `port ${text} is out of range (1-65535).`);
  return port;
}

function parseCidr(raw: string, allowHttp: boolean, addressText: string, prefixText: string): CidrAllowlistEntry {
  const address = addressText.startsWith('[') && addressText.endsWith(']') ? addressText.slice(1, -1) : addressText;
  let network: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) network = ipaddr.IPv4.parse(address);
  else if (ipaddr.IPv6.isValid(address) && !address.includes('%')) network = ipaddr.IPv6.parse(address);
  else throw invalid(raw, `"${address}" is not an IPv4 (a.b.c.d) or IPv6 network address.`);

  const max = network.kind() === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    throw invalid(raw, `prefix length "/${prefixText}" must be a number from 1 to ${max}.`);
  }
  const prefix = Number(prefixText);
  if (prefix === 0) throw invalid(raw, 'a /0 range would allow every address; list the networks you need.');

  const spelled = network.kind() === 'ipv6' ? (network as ipaddr.IPv6).toRFC5952String() : network.toString();
  const base =
    network.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${spelled}/${prefix}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${spelled}/${prefix}`).toRFC5952String();
  if (base !== spelled) throw invalid(raw, `host bits are set; did you mean ${base}/${prefix}?`);
  return { kind: 'cidr', cidr: `${base}/${prefix}`, allowHttp, raw };
}

/** Normalises a DNS name the way the WHATWG URL parser does (lower case, IDNA), so it compares with URL.hostname. */
function normalizeDnsName(raw: string, name: string): string {
  let hostname: string;
  try {
    hostname = new URL(`http://${name}/`).hostname;
  } catch {
    throw invalid(raw, `"${name}" is not a valid host name.`);
  }
  if (!DNS_NAME.test(hostname)) throw invalid(raw, `"${name}" is not a valid host name.`);
  return hostname;
}

/** Parses one entry: `[http://|https://]host[:port]`, `[http://]ip/prefix`, or a bare IP (= /32, /128). */
export function parseAllowlistEntry(raw: string): AllowlistEntry {
  const entry = raw.trim();
  if (entry === '') throw invalid(raw, 'the entry is empty.');

  let rest = entry;
  let allowHttp = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(entry);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'http') allowHttp = true;
    else if (name !== 'https') throw invalid(entry, `scheme "${name}://" is not supported; use "http://" or no prefix.`);
    rest = entry.slice(scheme[0].length);
  }
  if (rest === '') throw invalid(entry, 'a host, IP address or CIDR range is missing.');
  if (/\s/.test(rest)) throw invalid(entry, 'it contains whitespace.');
  if (rest.includes('@')) throw invalid(entry, 'credentials (user@) are not allowed.');
  if (/[?#]/.test(rest)) throw invalid(entry, 'a query or fragment is not allowed.');
  if (rest.includes('*')) throw invalid(entry, 'wildcards are not supported; list each host or use a CIDR range.');

  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const after = rest.slice(slash + 1);
    if (after === '' || !/^\d+$/.test(after)) {
      throw invalid(entry, 'a path is not allowed; give only a host, host:port or CIDR range.');
    }
    return parseCidr(entry, allowHttp, rest.slice(0, slash), after);
  }

  // [v6] or [v6]:port
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) throw invalid(entry, 'the "[" of an IPv6 address is not closed.');
    const inside = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (inside.includes('%')) throw invalid(entry, 'IPv6 zone ids are not allowed.');
    if (!ipaddr.IPv6.isValid(inside)) throw invalid(entry, `"${inside}" is not an IPv6 address.`);
    if (after === '') return parseCidr(entry, allowHttp, inside, '128');
    if (!after.startsWith(':')) throw invalid(entry, `unexpected "${after}" after the IPv6 address.`);
    const literal = parseIpLiteral(inside);
    if (!literal) throw invalid(entry, `"${inside}" is not an IPv6 address.`);
    return { kind: 'host', host: literal.address, port: parsePort(entry, after.slice(1)), allowHttp, raw: entry };
  }

  // A bare IPv6 address (several colons, no brackets) cannot carry a port.
  if ((rest.match(/:/g) ?? []).length > 1) {
    if (rest.includes('%')) throw invalid(entry, 'IPv6 zone ids are not allowed.');
    if (!ipaddr.IPv6.isValid(rest)) {
      throw invalid(entry, `"${rest}" is not an IPv6 address; write an IPv6 address with a port as [address]:port.`);
    }
    return parseCidr(entry, allowHttp, rest, '128');
  }

  const colon = rest.indexOf(':');
  const hostText = colon === -1 ? rest : rest.slice(0, colon);
  const port = colon === -1 ? undefined : parsePort(entry, rest.slice(colon + 1));
  if (hostText === '') throw invalid(entry, 'the host is missing.');

  // Any IPv4 spelling a URL would accept (127.1, 0x7f.1, 2130706433) means that address.
  const literal = /^[0-9a-fx.]+$/i.test(hostText) ? parseIpLiteral(hostText) : null;
  if (literal) {
    if (port === undefined) return parseCidr(entry, allowHttp, literal.address, '32');
    return { kind: 'host', host: literal.address, port, allowHttp, raw: entry };
  }
  if (/^[0-9.]+$/.test(hostText)) throw invalid(entry, `"${hostText}" is not a valid IPv4 address.`);

  const host = normalizeDnsName(entry, hostText);
  return port === undefined ? { kind: 'host', host, allowHttp, raw: entry } : { kind: 'host', host, port, allowHttp, raw: entry };
}

/** Parses a comma-separated list; blank items are skipped, the first bad entry throws. */
export function parseAllowlist(csv: string): AllowlistEntry[] {
  return csv
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map(parseAllowlistEntry);
}

function comparableHost(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return parseIpLiteral(host)?.address ?? host;
}

/** The port a URL will connect to: its explicit port or the scheme default. */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'http:' ? 80 : 443;
}

/** Host entries that match this hostname and port (case-insensitive; trailing dot ignored). */
export function matchHostEntries(
  allowlist: readonly AllowlistEntry[],
  hostname: string,
  port: number,
): HostAllowlistEntry[] {
  const host = comparableHost(hostname);
  return allowlist.filter(
    (e): e is HostAllowlistEntry =>
      e.kind === 'host' && comparableHost(e.host) === host && (e.port === undefined || e.port === port),
  );
}

/** CIDR entries that contain this address (an IPv4-mapped IPv6 address counts as its IPv4). */
export function matchCidrEntries(allowlist: readonly AllowlistEntry[], address: string): CidrAllowlistEntry[] {
  const normalized = normalizeIp(address);
  if (!normalized || normalized.zoneId !== undefined) return [];
  const addr = ipaddr.parse(normalized.address);
  return allowlist.filter((e): e is CidrAllowlistEntry => {
    if (e.kind !== 'cidr') return false;
    const range = ipaddr.parseCIDR(e.cidr);
    return range[0].kind() === addr.kind() && addr.match(range);
  });
}

/** Host entries for this URL's host and port. */
export function matchUrlHostEntries(allowlist: readonly AllowlistEntry[], url: URL): HostAllowlistEntry[] {
  return matchHostEntries(allowlist, url.hostname, effectivePort(url));
}
