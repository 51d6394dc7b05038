import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { resetEnvCache } from '@/lib/env';
import { AppError, isAppError } from '@/lib/errors';
import { type AllowlistEntry, parseAllowlist, parseAllowlistEntry } from '@/lib/oauth/allowlist';
import { parseIpLiteral } from '@/lib/oauth/ip-policy';
import {
  type Resolver,
  type SafeFetchInit,
  closeOutboundConnections,
  safeFetch,
  setDefaultOutboundPolicyProvider,
} from '@/lib/oauth/safe-fetch';

// ---------------------------------------------------------------------------------------------
// Harness: real loopback servers, and a record of every outbound socket connect.

type Recorded = { method: string; url: string; host: string | undefined; headers: http.IncomingHttpHeaders; body: string };

type TestServer = {
  port: number;
  host: string;
  origin: string;
  requests: Recorded[];
  connections: number;
  close(): Promise<void>;
};

async function listen(server: net.Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

function closer(server: net.Server): () => Promise<void> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

async function startHttpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  host = '127.0.0.1',
  port = 0,
): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      handler(req, res);
    });
  });
  const close = closer(server);
  const state = { connections: 0 };
  server.on('connection', () => state.connections++);
  const bound = await listen(server, host, port);
  return {
    port: bound,
    host,
    origin: `http://${host}:${bound}`,
    requests,
    get connections() {
      return state.connections;
    },
    close,
  };
}

/** A raw TCP server that only counts connections (and runs a script on each, if given). */
async function startTcpServer(host: string, onSocket?: (socket: net.Socket) => void, port = 0): Promise<TestServer> {
  const server = net.createServer((socket) => {
    state.connections++;
    socket.on('error', () => undefined);
    if (onSocket) onSocket(socket);
    else socket.destroy();
  });
  const state = { connections: 0 };
  const close = closer(server);
  const bound = await listen(server, host, port);
  return {
    port: bound,
    host,
    origin: `http://${host}:${bound}`,
    requests: [],
    get connections() {
      return state.connections;
    },
    close,
  };
}

/** Every call to net.Socket#connect (TLS sockets included) with its destination. */
const connects: Array<{ host: string; port: number }> = [];
const originalConnect = net.Socket.prototype.connect;

function destination(args: unknown[]): { host: string; port: number } {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  const options = (typeof first === 'object' && first !== null ? first : {}) as { host?: string; port?: number | string };
  return { host: options.host ?? 'localhost', port: Number(options.port) };
}

beforeAll(() => {
  // Records every connect and keeps the tests on this machine: a connect to anything but loopback
  // fails like an unreachable network would, without leaving the box.
  vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (this: net.Socket, ...args: unknown[]) {
    const dest = destination(args);
    connects.push(dest);
    const literal = parseIpLiteral(dest.host);
    const loopback = dest.host === 'localhost' || (literal && (literal.address.startsWith('127.') || literal.address === '::1'));
    if (!loopback) {
      process.nextTick(() => this.destroy(Object.assign(new Error('test network guard'), { code: 'ENETUNREACH' })));
      return this;
    }
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  });
});

afterAll(() => {
  vi.restoreAllMocks();
});

beforeEach(async () => {
  // Each test counts its own connections: none kept alive from the one before.
  await closeOutboundConnections();
  connects.length = 0;
});

async function caught(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

function entries(...raw: string[]): { allowlist: AllowlistEntry[] } {
  return { allowlist: raw.map(parseAllowlistEntry) };
}

function staticResolver(map: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const answers = map[hostname];
    if (!answers) throw Object.assign(new Error(`no such host ${hostname}`), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }));
  };
  return Object.assign(resolver, { calls });
}

// ---------------------------------------------------------------------------------------------
// Hostile URLs: refused before any socket is opened.

describe('hostile URLs are refused without opening a socket', () => {
  let trap: TestServer;
  beforeAll(async () => {
    // Dual-stack wildcard: catches 127.0.0.0/8, ::1, 0.0.0.0 and ::ffff:127.x on this port.
    trap = await startTcpServer('::');
  });
  afterAll(async () => {
    await trap.close();
  });

  type Case = {
    url: string;
    code: string;
    reason?: string;
    resolve?: Record<string, string[]>;
    policy?: string[];
  };

  const cases = (port: number): Array<[string, Case]> => {
    const p = port;
    const blocked = (host: string, reason?: string): [string, Case] => [
      host,
      { url: `https://${host}:${p}/.well-known/openid-configuration?x=1`, code: 'BLOCKED_ADDRESS', ...(reason ? { reason } : {}) },
    ];
    const dns = (name: string, answers: string[], reason: string, policy?: string[]): [string, Case] => [
      `${name} -> ${answers.join(', ')}`,
      {
        url: `https://${name}:${p}/register`,
        code: 'BLOCKED_ADDRESS',
        reason,
        resolve: { [name]: answers },
        ...(policy ? { policy } : {}),
      },
    ];
    return [
      // IPv4 loopback in every spelling a URL host can carry
      blocked('127.0.0.1', 'loopback'),
      blocked('127.1', 'loopback'),
      blocked('127.0.1', 'loopback'),
      blocked('2130706433', 'loopback'),
      blocked('0x7f000001', 'loopback'),
      blocked('017700000001', 'loopback'),
      blocked('0177.0.0.1', 'loopback'),
      blocked('0x7f.0.0.1', 'loopback'),
      blocked('0x7f.1', 'loopback'),
      blocked('0177.1', 'loopback'),
      blocked('127.0.0.1.', 'loopback'),
      blocked('127.255.255.254', 'loopback'),
      blocked('%31%32%37.0.0.1', 'loopback'),
      blocked('１２７.０.０.１', 'loopback'),
      blocked('127。0。0。1', 'loopback'),
      blocked('0.0.0.0', 'unspecified'),
      blocked('0', 'unspecified'),
      blocked('0x0', 'unspecified'),
      // IPv6 loopback and unspecified
      blocked('[::1]', 'loopback'),
      blocked('[0:0:0:0:0:0:0:1]', 'loopback'),
      blocked('[0000::0001]', 'loopback'),
      blocked('[::]', 'unspecified'),
      // IPv6 forms that carry an IPv4 address
      blocked('[::ffff:127.0.0.1]', 'loopback'),
      blocked('[::ffff:7f00:1]', 'loopback'),
      blocked('[0:0:0:0:0:ffff:127.0.0.1]', 'loopback'),
      blocked('[::ffff:10.0.0.1]', 'private'),
      blocked('[::ffff:169.254.169.254]', 'cloud-metadata'),
      blocked('[::ffff:0:127.0.0.1]', 'loopback'),
      blocked('[::127.0.0.1]', 'loopback'),
      blocked('[::10.0.0.1]', 'private'),
      blocked('[2002:7f00:1::]', 'loopback'),
      blocked('[2002:a9fe:a9fe::]', 'cloud-metadata'),
      blocked('[2002:a00:1::1]', 'private'),
      blocked('[64:ff9b::127.0.0.1]', 'loopback'),
      blocked('[64:ff9b::a9fe:a9fe]', 'cloud-metadata'),
      blocked('[64:ff9b:1::a00:1]', 'private'),
      blocked('[2001:0:4136:e378:8000:63bf:80ff:fffe]', 'loopback'),
      blocked('[2001:0:7f00:1::f7f7:f7f7]', 'loopback'),
      // Private, link-local, CGNAT
      blocked('10.0.0.1', 'private'),
      blocked('10.255.255.255', 'private'),
      blocked('012.0.0.1', 'private'),
      blocked('0xa.0.0.1', 'private'),
      blocked('167772161', 'private'),
      blocked('172.16.0.1', 'private'),
      blocked('172.31.255.255', 'private'),
      blocked('192.168.0.1', 'private'),
      blocked('0xc0a80001', 'private'),
      blocked('169.254.0.1', 'link-local'),
      blocked('100.64.0.1', 'carrier-grade-nat'),
      blocked('100.127.255.255', 'carrier-grade-nat'),
      blocked('[fc00::1]', 'private'),
      blocked('[fd12:3456::1]', 'private'),
      blocked('[fe80::1]', 'link-local'),
      blocked('[fec0::1]', 'private'),
      // Cloud metadata endpoints
      blocked('169.254.169.254', 'cloud-metadata'),
      blocked('0xa9fea9fe', 'cloud-metadata'),
      blocked('2852039166', 'cloud-metadata'),
      blocked('0251.0376.0251.0376', 'cloud-metadata'),
      blocked('100.100.100.200', 'cloud-metadata'),
      blocked('[fd00:ec2::254]', 'cloud-metadata'),
      // Multicast, broadcast, reserved, documentation, benchmarking
      blocked('224.0.0.1', 'multicast'),
      blocked('239.255.255.250', 'multicast'),
      blocked('[ff02::1]', 'multicast'),
      blocked('255.255.255.255', 'broadcast'),
      blocked('0.1.2.3', 'reserved'),
      blocked('192.0.0.1', 'reserved'),
      blocked('240.0.0.1', 'reserved'),
      blocked('192.0.2.1', 'documentation'),
      blocked('198.51.100.1', 'documentation'),
      blocked('203.0.113.1', 'documentation'),
      blocked('[2001:db8::1]', 'documentation'),
      blocked('198.18.0.1', 'benchmark'),
      // DNS answers: one refused address among public ones refuses the lot
      dns('mixed.hospital.test', ['93.184.216.34', '10.0.0.5'], 'private'),
      dns('mixed6.hospital.test', ['2606:4700:4700::1111', '::1'], 'loopback'),
      dns('imds.hospital.test', ['1.1.1.1', '169.254.169.254'], 'cloud-metadata'),
      dns('last.hospital.test', ['8.8.8.8', '8.8.4.4', '127.0.0.1'], 'loopback'),
      dns('mapped.hospital.test', ['::ffff:127.0.0.1'], 'loopback'),
      dns('odd-spelling.hospital.test', ['0x7f.1'], 'loopback'),
      dns('metadata.google.internal', ['169.254.169.254'], 'cloud-metadata'),
      // A host entry vouches for internal addresses but not for a metadata endpoint
      dns('as.hospital.test', ['169.254.169.254'], 'cloud-metadata', ['as.hospital.test']),
      // Nor does a range that happens to hold one: only a CIDR entry naming exactly that address
      dns('v6range.hospital.test', ['fd00:ec2::254'], 'cloud-metadata', ['fd00::/8']),
      dns('cgnat.hospital.test', ['100.100.100.200'], 'cloud-metadata', ['100.64.0.0/10']),
      dns('linklocal.hospital.test', ['169.254.169.254'], 'cloud-metadata', ['169.254.0.0/16']),
      dns('ecs.hospital.test', ['169.254.170.2'], 'cloud-metadata', ['ecs.hospital.test']),
      dns('eks.hospital.test', ['169.254.170.23'], 'cloud-metadata', ['169.254.170.0/24']),
      dns('eks6.hospital.test', ['fd00:ec2::23'], 'cloud-metadata', ['fd00:ec2::/64']),
      // A host entry for one host does nothing for another
      dns('other.hospital.test', ['10.0.0.7'], 'private', ['as.hospital.test']),
      // Schemes and URL shapes
      ['plain http to loopback', { url: `http://127.0.0.1:${p}/`, code: 'INSECURE_SCHEME' }],
      ['plain http to a public name', { url: 'http://as.hospital.test/', code: 'INSECURE_SCHEME' }],
      ['file:', { url: 'file:///etc/passwd', code: 'INSECURE_SCHEME' }],
      ['gopher:', { url: `gopher://127.0.0.1:${p}/_GET%20/`, code: 'INSECURE_SCHEME' }],
      ['ftp:', { url: `ftp://127.0.0.1:${p}/`, code: 'INSECURE_SCHEME' }],
      ['ws:', { url: `ws://127.0.0.1:${p}/`, code: 'INSECURE_SCHEME' }],
      ['data:', { url: 'data:application/json,{}', code: 'INSECURE_SCHEME' }],
      ['javascript:', { url: 'javascript:alert(1)', code: 'INSECURE_SCHEME' }],
      ['user:password@', { url: `https://user:pass@127.0.0.1:${p}/`, code: 'INVALID_URL' }],
      ['user@ to a public name', { url: 'https://admin@as.hospital.test/', code: 'INVALID_URL' }],
      ['relative URL', { url: '/.well-known/openid-configuration', code: 'INVALID_URL' }],
      ['zone id in the URL', { url: `https://[fe80::1%25eth0]:${p}/`, code: 'INVALID_URL' }],
      ['unclosed bracket', { url: `https://[::1:${p}/`, code: 'INVALID_URL' }],
      ['out-of-range IPv4', { url: `https://127.0.0.256:${p}/`, code: 'INVALID_URL' }],
    ];
  };

  // The port is only known once the trap listens, so the table is built inside the test.
  it('covers dozens of cases', () => {
    expect(cases(1).length).toBeGreaterThan(90);
  });

  for (const [name] of cases(1)) {
    it(`refuses ${name}`, async () => {
      const found = cases(trap.port).find(([n]) => n === name);
      if (!found) throw new Error(`case ${name} vanished`);
      const [, c] = found;
      const trapBefore = trap.connections;
      const resolver = staticResolver(c.resolve ?? {});
      const error = await caught(
        safeFetch(c.url, {
          policy: { allowlist: (c.policy ?? []).map(parseAllowlistEntry) },
          resolve: resolver,
          connectTimeoutMs: 500,
          headersTimeoutMs: 1_000,
          totalTimeoutMs: 1_000,
        }),
      );
      expect(error.code).toBe(c.code);
      if (c.reason) expect(error.details).toMatchObject({ reason: c.reason });
      expect(error.message).not.toContain('?x=1');
      expect(error.message).not.toContain('pass');
      expect(trap.connections - trapBefore).toBe(0);
      expect(connects).toEqual([]);
    });
  }

  it('a CIDR entry naming exactly a metadata address (/32, /128) lets it through: an attempt is made', async () => {
    for (const [address, entry] of [
      ['169.254.169.254', '169.254.169.254/32'],
      ['fd00:ec2::254', 'fd00:ec2::254/128'],
    ]) {
      connects.length = 0;
      const error = await caught(
        safeFetch('https://imds.hospital.test/latest', {
          policy: { allowlist: [parseAllowlistEntry(entry!)] },
          resolve: staticResolver({ 'imds.hospital.test': [address!] }),
          connectTimeoutMs: 500,
          headersTimeoutMs: 1_000,
          totalTimeoutMs: 1_000,
        }),
      );
      expect(error.code).not.toBe('BLOCKED_ADDRESS');
      expect(connects.map((c) => c.host)).toContain(address);
    }
  });

  it('refuses localhost through the real resolver', async () => {
    const trapBefore = trap.connections;
    const error = await caught(safeFetch(`https://localhost:${trap.port}/`, { policy: { allowlist: [] } }));
    expect(error.code).toBe('BLOCKED_ADDRESS');
    expect(error.details).toMatchObject({ reason: 'loopback' });
    expect(trap.connections - trapBefore).toBe(0);
    expect(connects).toEqual([]);
  });

  it('the trap and the connect record do see a connection when one is allowed (control)', async () => {
    const trapBefore = trap.connections;
    const error = await caught(
      safeFetch(`https://127.0.0.1:${trap.port}/`, {
        policy: entries(`127.0.0.1:${trap.port}`),
        connectTimeoutMs: 1_000,
      }),
    );
    // The trap hangs up instead of speaking TLS.
    expect(error.code).toBe('CONNECTION_FAILED');
    expect(trap.connections - trapBefore).toBe(1);
    expect(connects).toEqual([{ host: '127.0.0.1', port: trap.port }]);
  });

  it('DNS rebinding: the first (public) answer is the only one used; the later loopback answer never is', async () => {
    const trapBefore = trap.connections;
    let calls = 0;
    const rebinding: Resolver = async () => {
      calls++;
      return calls === 1 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    };
    const error = await caught(
      safeFetch(`https://rebind.hospital.test:${trap.port}/`, {
        policy: { allowlist: [] },
        resolve: rebinding,
        connectTimeoutMs: 500,
      }),
    );
    // The network guard makes the public address unreachable; what matters is where we went.
    expect(error.code).toBe('CONNECTION_FAILED');
    expect(calls).toBe(1);
    expect(connects).toEqual([{ host: '93.184.216.34', port: trap.port }]);
    expect(trap.connections - trapBefore).toBe(0);
  });
});

describe('DNS rebinding against a real server', () => {
  it('connects to the checked address even when a later lookup would answer loopback', async () => {
    // 127.0.0.2 stands in for the public address (allowlisted by CIDR); 127.0.0.1 is the target
    // a rebinding attacker wants. Both listen on the same port.
    const legit = await startHttpServer((_req, res) => res.end('{"ok":true}'), '127.0.0.2');
    const trap = await startTcpServer('127.0.0.1', undefined, legit.port);
    try {
      let calls = 0;
      const rebinding: Resolver = async () => {
        calls++;
        return [{ address: calls === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
      };
      const response = await safeFetch(`http://rebind.hospital.test:${legit.port}/`, {
        policy: entries('http://127.0.0.2/32'),
        resolve: rebinding,
      });
      expect(response.json()).toEqual({ ok: true });
      expect(response.remoteAddress).toBe('127.0.0.2');
      expect(calls).toBe(1);
      expect(legit.requests).toHaveLength(1);
      expect(trap.connections).toBe(0);
    } finally {
      await legit.close();
      await trap.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Behaviour against real loopback servers

describe('safeFetch against loopback servers', () => {
  let server: TestServer;
  const routes = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>();
  let bomb: Buffer;

  beforeAll(async () => {
    server = await startHttpServer((req, res) => {
      const route = routes.get((req.url ?? '').split('?')[0] ?? '');
      if (route) route(req, res);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    // ~100 MB of zeros compresses to ~100 KB.
    const gzip = zlib.createGzip({ level: 9 });
    const parts: Buffer[] = [];
    gzip.on('data', (c: Buffer) => parts.push(c));
    const done = new Promise((resolve) => gzip.on('end', resolve));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 100; i++) gzip.write(zeros);
    gzip.end();
    await done;
    bomb = Buffer.concat(parts);
  });
  afterAll(async () => {
    await server.close();
  });

  const policy = () => entries(`http://127.0.0.1:${server.port}`);
  const url = (path: string) => `${server.origin}${path}`;
  const route = (path: string, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) => {
    routes.set(path, handler);
  };

  it('returns a 200 JSON response with status, headers, body and the address it connected to', async () => {
    route('/json', (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: 'https://as.hospital.test', n: 1 }));
    });
    const response = await safeFetch(url('/json?probe=1'), { policy: policy() });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.json()).toEqual({ issuer: 'https://as.hospital.test', n: 1 });
    expect(response.url).toBe(url('/json?probe=1'));
    expect(response.remoteAddress).toBe('127.0.0.1');
    expect(server.requests.at(-1)).toMatchObject({ method: 'GET', url: '/json?probe=1' });
  });

  it('sends method, headers and body as given', async () => {
    route('/echo', (req, res) => res.end(JSON.stringify({ method: req.method })));
    const response = await safeFetch(url('/echo'), {
      policy: policy(),
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t0k3n' },
      body: '{"redirect_uris":["https://app.example/cb"]}',
    });
    expect(response.json()).toEqual({ method: 'POST' });
    const seen = server.requests.at(-1);
    expect(seen?.headers.authorization).toBe('Bearer t0k3n');
    expect(seen?.headers['content-type']).toBe('application/json');
    expect(seen?.body).toBe('{"redirect_uris":["https://app.example/cb"]}');
  });

  it('keeps the connection to a checked address alive for the next request, and still checks every request', async () => {
    route('/ok', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    for (let i = 0; i < 6; i++) expect((await safeFetch(url('/ok'), { policy: policy() })).status).toBe(200);
    // Without reuse, six; a request sent while the last answer is still being wound up may open a second.
    expect(connects.length).toBeLessThanOrEqual(2);
    const opened = connects.length;
    // The policy is checked per request: with the entry gone, the kept connection is not used.
    const refused = await caught(safeFetch(url('/ok'), { policy: { allowlist: [] } }));
    expect(refused.code).toBe('INSECURE_SCHEME');
    expect(connects).toHaveLength(opened);
  });

  it('does not follow a 302 and reports the status and the Location host', async () => {
    route('/redirect', (_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    });
    const error = await caught(safeFetch(url('/redirect'), { policy: policy() }));
    expect(error.code).toBe('UNEXPECTED_REDIRECT');
    expect(error.details).toEqual({ status: 302, location: '169.254.169.254' });
    expect(connects).toHaveLength(1);
  });

  it('refuses a 10 MB body with TOO_LARGE while streaming it (no Content-Length)', async () => {
    route('/big-chunked', (_req, res) => {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const write = () => {
        while (sent < 10 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      res.on('error', () => undefined);
      write();
    });
    const error = await caught(safeFetch(url('/big-chunked'), { policy: policy() }));
    expect(error.code).toBe('TOO_LARGE');
    expect(error.details).toMatchObject({ limitBytes: 1_048_576 });
    expect((error.details?.receivedBytes as number) - 1_048_576).toBeLessThanOrEqual(64 * 1024);
  });

  it('refuses a body whose Content-Length exceeds the cap before reading it', async () => {
    route('/big-declared', (_req, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write('x'); // and then nothing: reading the body would hang until the timeout
    });
    const started = Date.now();
    const error = await caught(safeFetch(url('/big-declared'), { policy: policy(), totalTimeoutMs: 5_000 }));
    expect(error.code).toBe('TOO_LARGE');
    expect(error.details).toMatchObject({ contentLength: 10 * 1024 * 1024 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops a gzip bomb at the cap on decoded bytes, quickly and without inflating it', async () => {
    route('/bomb', (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
      res.on('error', () => undefined);
      res.end(bomb);
    });
    expect(bomb.length).toBeLessThan(200 * 1024);
    const baseline = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peak = Math.max(peak, now.arrayBuffers - baseline.arrayBuffers + (now.heapUsed - baseline.heapUsed));
    }, 2);
    const started = Date.now();
    const error = await caught(safeFetch(url('/bomb'), { policy: policy() })).finally(() => clearInterval(sampler));
    expect(error.code).toBe('TOO_LARGE');
    // Counted on decoded bytes and stopped within one decoder chunk of the cap.
    expect(error.details?.receivedBytes as number).toBeGreaterThan(1_048_576);
    expect(error.details?.receivedBytes as number).toBeLessThan(1_048_576 + 128 * 1024);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(peak).toBeLessThan(48 * 1024 * 1024);
  });

  it.each([
    ['gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateRawSync(b)],
    ['br', (b: Buffer) => zlib.brotliCompressSync(b)],
  ] as const)('decodes %s bodies', async (encoding, encode) => {
    const path = `/encoded-${encoding}-${encode.name}`;
    route(path, (_req, res) => {
      res.writeHead(200, { 'content-encoding': encoding });
      res.end(encode(Buffer.from('{"decoded":true}')));
    });
    const response = await safeFetch(url(path), { policy: policy() });
    expect(response.json()).toEqual({ decoded: true });
  });

  it('refuses a content encoding it cannot decode', async () => {
    route('/zstd', (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'zstd' });
      res.end('xxxx');
    });
    const error = await caught(safeFetch(url('/zstd'), { policy: policy() }));
    expect(error.code).toBe('CONNECTION_FAILED');
    expect(error.details).toMatchObject({ contentEncoding: 'zstd' });
  });

  it('closes the connection of a large body in an encoding it cannot decode, which the server keeps open', async () => {
    const sockets: net.Socket[] = [];
    const server = http.createServer((_req, res) => {
      sockets.push(res.socket!);
      res.writeHead(200, { 'content-encoding': 'zstd', 'content-length': String(4 * 1024 * 1024) });
      res.write(Buffer.alloc(4 * 1024 * 1024 - 1)); // one byte short: the server never ends it
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 3; i++) {
        const error = await caught(safeFetch(`${origin}/zstd`, { policy: entries(origin), totalTimeoutMs: 30_000, maxBodyBytes: 8 * 1024 * 1024 }));
        expect(error.details).toMatchObject({ contentEncoding: 'zstd' });
      }
      await expect.poll(() => sockets.filter((s) => !s.destroyed).length, { timeout: 2_000 }).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('times out within headersTimeoutMs when the headers never finish', async () => {
    const stall = await startTcpServer('127.0.0.1', (socket) => {
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'));
    });
    try {
      const started = Date.now();
      const error = await caught(
        safeFetch(`${stall.origin}/`, {
          policy: entries(`http://127.0.0.1:${stall.port}`),
          headersTimeoutMs: 300,
          totalTimeoutMs: 10_000,
        }),
      );
      const elapsed = Date.now() - started;
      expect(error.code).toBe('TIMEOUT');
      expect(error.details).toMatchObject({ phase: 'headers', timeoutMs: 300 });
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(1_500);
    } finally {
      await stall.close();
    }
  });

  it('times out within totalTimeoutMs when the body trickles', async () => {
    route('/slow', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const error = await caught(safeFetch(url('/slow'), { policy: policy(), headersTimeoutMs: 5_000, totalTimeoutMs: 600 }));
    const elapsed = Date.now() - started;
    expect(error.code).toBe('TIMEOUT');
    expect(error.details).toMatchObject({ phase: 'total', timeoutMs: 600 });
    expect(elapsed).toBeGreaterThanOrEqual(580);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('times out in the connect phase when the TLS handshake never completes', async () => {
    const silent = await startTcpServer('127.0.0.1', () => undefined);
    try {
      const error = await caught(
        safeFetch(`https://127.0.0.1:${silent.port}/`, {
          policy: entries(`127.0.0.1:${silent.port}`),
          connectTimeoutMs: 300,
          headersTimeoutMs: 10_000,
        }),
      );
      expect(error.code).toBe('TIMEOUT');
      expect(error.details).toMatchObject({ phase: 'connect' });
      expect(silent.connections).toBe(1);
    } finally {
      await silent.close();
    }
  });

  it('drops __proto__, constructor and prototype keys so parsed JSON cannot pollute prototypes', async () => {
    route('/proto', (_req, res) => {
      res.end(
        '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},' +
          '"client_id":"abc","nested":{"__proto__":{"polluted":"yes"},"ok":1},"list":[{"__proto__":{"polluted":"yes"}}]}',
      );
    });
    const response = await safeFetch(url('/proto'), { policy: policy() });
    const parsed = response.json() as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(parsed)).toEqual(['client_id', 'nested', 'list']);
    expect(Object.hasOwn(parsed, '__proto__')).toBe(false);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed.nested as object)).toEqual(['ok']);
    expect(Object.keys((parsed.list as object[])[0] as object)).toEqual([]);
    // The same object merged the usual way stays clean.
    const merged = Object.assign({}, parsed, parsed.nested);
    expect((merged as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('parses JSON preceded by a BOM and surrounded by whitespace', async () => {
    route('/bom', (_req, res) => res.end(Buffer.from('\uFEFF \r\n {"ok":true} \n\t ', 'utf8')));
    const response = await safeFetch(url('/bom'), { policy: policy() });
    expect(response.json()).toEqual({ ok: true });
    expect(response.text().startsWith(' ')).toBe(true);
  });

  it('throws INVALID_JSON for a body that is not JSON, without quoting the body', async () => {
    route('/not-json', (_req, res) => res.end('<html>client_secret=s3cr3t</html>'));
    const response = await safeFetch(url('/not-json'), { policy: policy() });
    expect(response.text()).toBe('<html>client_secret=s3cr3t</html>');
    let error: unknown;
    try {
      response.json();
    } catch (e) {
      error = e;
    }
    expect(isAppError(error) && error.code).toBe('INVALID_JSON');
    expect(JSON.stringify({ m: (error as Error).message, d: (error as AppError).details })).not.toContain('s3cr3t');
  });

  it('refuses plain http to a host whose allowlist entry lacks http://', async () => {
    const error = await caught(safeFetch(url('/json'), { policy: entries(`127.0.0.1:${server.port}`) }));
    expect(error.code).toBe('INSECURE_SCHEME');
    expect(connects).toEqual([]);
  });

  it('refuses plain http even to an allowlisted CIDR when the entry lacks http://', async () => {
    const error = await caught(safeFetch(url('/json'), { policy: entries('127.0.0.0/8', 'http://10.0.0.0/8') }));
    expect(error.code).toBe('INSECURE_SCHEME');
    expect(connects).toEqual([]);
  });

  it('allows plain http to addresses under an http:// CIDR entry', async () => {
    const response = await safeFetch(url('/json'), { policy: entries('http://127.0.0.0/8') });
    expect(response.status).toBe(200);
  });

  it('pins the connection to the checked address and keeps Host = the URL host', async () => {
    route('/pinned', (req, res) => res.end(JSON.stringify({ host: req.headers.host })));
    const resolver = staticResolver({ 'hospital.test': ['127.0.0.1'] });
    const response = await safeFetch(`http://hospital.test:${server.port}/pinned`, {
      policy: entries(`http://hospital.test:${server.port}`),
      resolve: resolver,
    });
    expect(response.json()).toEqual({ host: `hospital.test:${server.port}` });
    expect(response.remoteAddress).toBe('127.0.0.1');
    expect(resolver.calls).toEqual(['hospital.test']);
    expect(connects).toEqual([{ host: '127.0.0.1', port: server.port }]);
  });

  it('tries the next checked address when one refuses the connection', async () => {
    const closed = await startTcpServer('127.0.0.3');
    const deadPort = closed.port;
    await closed.close();
    const resolver = staticResolver({ 'multi.hospital.test': ['127.0.0.3', '127.0.0.1'] });
    // The live server is on 127.0.0.1:server.port; 127.0.0.3 has nothing on that port.
    expect(deadPort).toBeGreaterThan(0);
    const response = await safeFetch(`http://multi.hospital.test:${server.port}/json`, {
      policy: entries('http://127.0.0.0/8'),
      resolve: resolver,
    });
    expect(response.status).toBe(200);
    expect(response.remoteAddress).toBe('127.0.0.1');
    expect(connects.map((c) => c.host)).toEqual(['127.0.0.3', '127.0.0.1']);
  });

  it('reports CONNECTION_FAILED when nothing listens', async () => {
    const closed = await startTcpServer('127.0.0.1');
    const port = closed.port;
    await closed.close();
    const error = await caught(safeFetch(`http://127.0.0.1:${port}/`, { policy: entries(`http://127.0.0.1:${port}`) }));
    expect(error.code).toBe('CONNECTION_FAILED');
    expect(error.details).toMatchObject({ cause: 'ECONNREFUSED', address: '127.0.0.1' });
  });

  it('reports DNS_FAILURE for a name that does not resolve or resolves to nothing', async () => {
    const notFound = await caught(safeFetch('https://nowhere.hospital.test/', { policy: { allowlist: [] }, resolve: staticResolver({}) }));
    expect(notFound.code).toBe('DNS_FAILURE');
    expect(notFound.details).toMatchObject({ cause: 'ENOTFOUND' });
    const empty = await caught(
      safeFetch('https://empty.hospital.test/', { policy: { allowlist: [] }, resolve: staticResolver({ 'empty.hospital.test': [] }) }),
    );
    expect(empty.code).toBe('DNS_FAILURE');
  });

  it('rethrows the caller’s abort reason when the caller aborts', async () => {
    route('/hang', () => undefined);
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    setTimeout(() => controller.abort(reason), 100);
    await expect(safeFetch(url('/hang'), { policy: policy(), signal: controller.signal })).rejects.toBe(reason);
  });

  it('never puts the query string, request headers or request body into error messages', async () => {
    route('/secret-redirect', (_req, res) => {
      res.writeHead(307, { location: '/elsewhere' });
      res.end();
    });
    route('/secret-hang', () => undefined);
    const secretInit: SafeFetchInit = {
      policy: policy(),
      method: 'POST',
      headers: { authorization: 'Bearer HEADER-SECRET' },
      body: 'client_secret=BODY-SECRET',
      headersTimeoutMs: 200,
    };
    const failures = [
      await caught(safeFetch(url('/secret-redirect?code=QUERY-SECRET'), secretInit)),
      await caught(safeFetch(url('/secret-hang?code=QUERY-SECRET'), secretInit)),
      await caught(safeFetch(`https://10.0.0.1/x?code=QUERY-SECRET`, secretInit)),
      await caught(safeFetch(`http://198.51.100.1/x?code=QUERY-SECRET`, { ...secretInit, policy: { allowlist: [] } })),
    ];
    expect(failures.map((f) => f.code)).toEqual(['UNEXPECTED_REDIRECT', 'TIMEOUT', 'BLOCKED_ADDRESS', 'INSECURE_SCHEME']);
    for (const failure of failures) {
      const text = JSON.stringify({ message: failure.message, details: failure.details, stack: failure.stack });
      expect(text).not.toMatch(/QUERY-SECRET|HEADER-SECRET|BODY-SECRET/);
    }
    expect(failures[0]?.message).toContain(`${server.origin}/secret-redirect`);
  });
});

// ---------------------------------------------------------------------------------------------
// TLS with a pinned address

const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNcTJ44UVgi9zSOJz
L+fElpKP2M4OP57jRY5Wh8VFm2+hRANCAAQ88TuieIkS2DWN/rcViujS+GNhz/cr
o4Ceq3CDBM2VLWwrpbUq4sVWYJiwJ2yDnrc5ttwhGJdcEQ3+ZlWdnRMl
-----END PRIVATE KEY-----`;
// Self-signed, CN/SAN hospital.test, valid until 2126. Test-only.
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBoDCCAUegAwIBAgIUJJC8K5dlRvd9ar4EfznlRtmc1RkwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNaG9zcGl0YWwudGVzdDAgFw0yNjExMjgwMzU5NTVaGA8yMTI2
MTEwNDAzNTk1NVowGDEWMBQGA1UEAwwNaG9zcGl0YWwudGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABDzxO6J4iRLYNY3+txWK6NL4Y2HP9yujgJ6rcIMEzZUt
bCultSrixVZgmLAnbIOetzm23CEYl1wRDf5mVZ2dEyWjbTBrMB0GA1UdDgQWBBQn
lIvAkTBmFI9ShpSJhk60M4UU9DAfBgNVHSMEGDAWgBQnlIvAkTBmFI9ShpSJhk60
M4UU9DAPBgNVHRMBAf8EBTADAQH/MBgGA1UdEQQRMA+CDWhvc3BpdGFsLnRlc3Qw
CgYIKoZIzj0EAwIDRwAwRAIgAcaSa4qyoM3ALVA/0lw3AUZlqtD5ewOH6/6bw7PN
DP0CIGB5DFalAupmyjzPAfdCdzsX057Q78C34quR+vhqq52n
-----END CERTIFICATE-----`;

describe('https with a pinned address', () => {
  it('sends SNI for the URL host while connecting to the checked address, and verifies the certificate', async () => {
    const servernames: Array<string | undefined> = [];
    const server = https.createServer({
      key: TEST_KEY,
      cert: TEST_CERT,
      SNICallback: (servername, callback) => {
        servernames.push(servername);
        callback(null);
      },
    });
    server.on('tlsClientError', () => undefined);
    const close = closer(server);
    const port = await listen(server, '127.0.0.1');
    try {
      const error = await caught(
        safeFetch(`https://hospital.test:${port}/.well-known/openid-configuration`, {
          policy: entries(`hospital.test:${port}`),
          resolve: staticResolver({ 'hospital.test': ['127.0.0.1'] }),
        }),
      );
      // Self-signed: verification is on, so the handshake is refused by the client.
      expect(error.code).toBe('CONNECTION_FAILED');
      expect(error.details).toMatchObject({ cause: 'DEPTH_ZERO_SELF_SIGNED_CERT', address: '127.0.0.1' });
      expect(servernames).toEqual(['hospital.test']);
      expect(connects).toEqual([{ host: '127.0.0.1', port }]);
    } finally {
      await close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Default policy: env list merged with the registered provider

describe('default outbound policy', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startHttpServer((_req, res) => res.end('"a"'));
    b = await startHttpServer((_req, res) => res.end('"b"'));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });
  afterEach(() => {
    delete process.env.REGISTRAR_OUTBOUND_ALLOWLIST;
    resetEnvCache();
    setDefaultOutboundPolicyProvider(async () => []);
  });

  it('merges REGISTRAR_OUTBOUND_ALLOWLIST with the registered provider when no policy is passed', async () => {
    process.env.REGISTRAR_OUTBOUND_ALLOWLIST = `http://127.0.0.1:${a.port}`;
    resetEnvCache();
    setDefaultOutboundPolicyProvider(async () => parseAllowlist(`http://127.0.0.1:${b.port}`));
    expect((await safeFetch(`${a.origin}/`)).json()).toBe('a');
    expect((await safeFetch(`${b.origin}/`)).json()).toBe('b');
  });

  it('refuses what neither list allows', async () => {
    process.env.REGISTRAR_OUTBOUND_ALLOWLIST = `http://127.0.0.1:${a.port}`;
    resetEnvCache();
    const error = await caught(safeFetch(`${b.origin}/`));
    expect(error.code).toBe('INSECURE_SCHEME');
  });

  it('an explicit policy replaces the default lists', async () => {
    process.env.REGISTRAR_OUTBOUND_ALLOWLIST = `http://127.0.0.1:${a.port}`;
    resetEnvCache();
    const error = await caught(safeFetch(`${a.origin}/`, { policy: { allowlist: [] } }));
    expect(error.code).toBe('INSECURE_SCHEME');
  });

  it('reports a malformed REGISTRAR_OUTBOUND_ALLOWLIST as MISCONFIGURED', async () => {
    process.env.REGISTRAR_OUTBOUND_ALLOWLIST = 'ftp://as.hospital.test';
    resetEnvCache();
    const error = await caught(safeFetch(`${a.origin}/`));
    expect(error.code).toBe('MISCONFIGURED');
    expect(error.message).toContain('REGISTRAR_OUTBOUND_ALLOWLIST');
  });
});
