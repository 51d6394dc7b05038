import 'server-only';

import { lookup as dnsLookup } from 'node:dns/promises';

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

import { Pool, buildConnector } from 'undici';

import { env } from '@/lib/env';
import { AppError, isAppError } from '@/lib/errors';
import {
  type AllowlistEntry,
  type CidrAllowlistEntry,
  effectivePort,
  matchCidrEntries,
  matchHostEntries,
  parseAllowlist,
} from '@/lib/oauth/allowlist';
import { type IpFamily, type IpRefusalReason, classifyIp, describeIpVerdict, normalizeIp, parseIpLiteral } from '@/lib/oauth/ip-policy';
import { parseJsonWithoutUnsafeKeys } from '@/lib/safe-json';

/**
 * The one way the registrar talks to authorization servers. Admin-supplied URLs are attacker
 * controlled as far as this module is concerned (SSRF): https only, every DNS answer checked
 * against the IP policy, the connection pinned to the checked address, no redirects, bounded
 * time and bounded (decoded) size.
 */

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;
export type OutboundPolicy = { allowlist: AllowlistEntry[] };
export type SafeFetchInit = {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Default: REGISTRAR_OUTBOUND_ALLOWLIST merged with the setDefaultOutboundPolicyProvider() list. */
  policy?: OutboundPolicy;
  connectTimeoutMs?: number;
  /** Counted from the start of the call (DNS and connect included) to the end of the response headers. */
  headersTimeoutMs?: number;
  /** Counted from the start of the call to the last body byte. */
  totalTimeoutMs?: number;
  /** Counted on the decoded body. */
  maxBodyBytes?: number;
  resolve?: Resolver;
  signal?: AbortSignal;
};
export type SafeResponse = {
  status: number;
  /** As received (Content-Encoding/Content-Length describe the wire, `body` is decoded). */
  headers: Headers;
  url: string;
  body: Uint8Array;
  /** The checked address actually connected to. */
  remoteAddress: string;
  text(): string;
  json(): unknown;
};

const DEFAULTS = {
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  totalTimeoutMs: 15_000,
  maxBodyBytes: 1_048_576,
} as const;

const MAX_CONTENT_ENCODINGS = 2;

// Set by the caller or by the transport, never forwarded from the caller.
const DROPPED_REQUEST_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
]);

// ---------------------------------------------------------------------------------------------
// Policy

let defaultPolicyProvider: (() => Promise<AllowlistEntry[]>) | undefined;
let envAllowlistCache: { csv: string; entries: AllowlistEntry[] } | undefined;

/** Registers the admin-managed (database) allowlist, merged with the env list when init.policy is absent. */
export function setDefaultOutboundPolicyProvider(fn: () => Promise<AllowlistEntry[]>): void {
  defaultPolicyProvider = fn;
}

function envAllowlist(): AllowlistEntry[] {
  const csv = env().REGISTRAR_OUTBOUND_ALLOWLIST;
  if (envAllowlistCache?.csv !== csv) {
    try {
      envAllowlistCache = { csv, entries: parseAllowlist(csv) };
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unreadable entry';
      throw new AppError('MISCONFIGURED', `REGISTRAR_OUTBOUND_ALLOWLIST is invalid. ${reason}`);
    }
  }
  return envAllowlistCache.entries;
}

async function defaultAllowlist(): Promise<AllowlistEntry[]> {
  const fromProvider = defaultPolicyProvider ? await defaultPolicyProvider() : [];
  return [...envAllowlist(), ...fromProvider];
}

// ---------------------------------------------------------------------------------------------
// URL and address checks

/** Origin and path only: the query string may carry codes or tokens, so errors never show it. */
function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function parseTarget(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(typeof input === 'string' ? input : input.href);
  } catch {
    throw new AppError('INVALID_URL', 'The URL is not a valid absolute URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AppError('INSECURE_SCHEME', `Only https URLs are allowed; got a ${url.protocol} URL.`, {
      scheme: url.protocol.slice(0, -1),
    });
  }
  if (url.username !== '' || url.password !== '') {
    // Never echo the URL here: the credentials are in it.
    throw new AppError('INVALID_URL', `URLs with embedded credentials are not allowed (host ${url.host}).`, {
      host: url.host,
    });
  }
  if (url.hostname === '') throw new AppError('INVALID_URL', 'The URL has no host.');
  return url;
}

type Target = { address: string; family: IpFamily };

function withTimeoutAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

const defaultResolver: Resolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

async function resolveTargets(url: URL, resolver: Resolver, signal: AbortSignal): Promise<Target[]> {
  const literal = parseIpLiteral(url.hostname);
  if (literal) return [{ address: literal.address, family: literal.family }];

  let answers: Array<{ address: string; family: 4 | 6 }>;
  try {
    answers = await withTimeoutAbort(resolver(url.hostname), signal);
  } catch (error) {
    if (signal.aborted) throw error;
    const code = errorCode(error);
    throw new AppError('DNS_FAILURE', `Could not resolve ${url.hostname}${code ? ` (${code})` : ''}.`, {
      host: url.hostname,
      ...(code ? { cause: code } : {}),
    });
  }
  if (answers.length === 0) {
    throw new AppError('DNS_FAILURE', `${url.hostname} did not resolve to any address.`, { host: url.hostname });
  }
  return answers.map((answer) => {
    const parsed = parseIpLiteral(answer.address);
    if (!parsed) {
      throw new AppError('DNS_FAILURE', `The resolver returned something that is not an IP address for ${url.hostname}.`, {
        host: url.hostname,
      });
    }
    return { address: parsed.address, family: parsed.family };
  });
}

/** A CIDR entry for one address only: 10.0.0.5/32, fd00:ec2::254/128. */
const namesOneAddress = (e: CidrAllowlistEntry) => e.cidr.endsWith(e.cidr.includes(':') ? '/128' : '/32');

/**
 * SSRF rule: every answer must pass (public, or allowlisted) before any connection is made, so a
 * name that resolves to one internal address among public ones is refused outright.
 */
function checkTargets(url: URL, targets: readonly Target[], allowlist: readonly AllowlistEntry[]): Target[] {
  const hostEntries = matchHostEntries(allowlist, url.hostname, effectivePort(url));
  const hostAllowsHttp = hostEntries.some((e) => e.allowHttp);
  const checked: Target[] = [];

  for (const target of targets) {
    const verdict = classifyIp(target.address);
    const cidrEntries = matchCidrEntries(allowlist, target.address);
    // A host or CIDR entry vouches for internal addresses, but not for a cloud metadata endpoint:
    // that takes a CIDR entry naming exactly that address (/32, /128), so neither a hospital's DNS
    // record nor a broad range (fd00::/8, 169.254.0.0/16) can point us at our own IMDS.
    const vouched = (reason: IpRefusalReason) =>
      reason === 'cloud-metadata' ? cidrEntries.some(namesOneAddress) : cidrEntries.length > 0 || hostEntries.length > 0;
    if (!verdict.allowed && !vouched(verdict.reason)) {
      throw new AppError(
        'BLOCKED_ADDRESS',
        `Refusing to connect to ${describeUrl(url)}: ${describeIpVerdict(verdict)}. ` +
          (hostEntries.length > 0 || (verdict.reason === 'cloud-metadata' && cidrEntries.length > 0)
            ? 'A host allowlist entry does not cover cloud metadata endpoints; only a CIDR entry naming exactly that address (/32 or /128) does.'
            : 'If this authorization server really is on an internal network, add it to the outbound allowlist.'),
        {
          host: url.hostname,
          address: verdict.address,
          reason: verdict.reason,
          ...(verdict.embedded ? { embedded: verdict.embedded } : {}),
        },
      );
    }
    if (url.protocol === 'http:' && !hostAllowsHttp && !cidrEntries.some((e) => e.allowHttp)) {
      throw insecureScheme(url);
    }
    // Connect to what was checked; an IPv4-mapped answer is its IPv4 address.
    const normalized = normalizeIp(target.address) ?? target;
    checked.push({ address: normalized.address, family: normalized.family });
  }
  return checked;
}

function insecureScheme(url: URL): AppError {
  return new AppError(
    'INSECURE_SCHEME',
    `Plain http is not allowed for ${describeUrl(url)}; use https, or add an "http://" entry for this host to the outbound allowlist.`,
    { host: url.host },
  );
}

// ---------------------------------------------------------------------------------------------
// Errors

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

type TimeoutPhase = 'connect' | 'headers' | 'total';

function timeoutError(url: URL, phase: TimeoutPhase, timeoutMs: number): AppError {
  const what = {
    connect: 'connecting to',
    headers: 'waiting for the response headers from',
    total: 'downloading the response from',
  }[phase];
  return new AppError('TIMEOUT', `Timed out after ${timeoutMs} ms ${what} ${describeUrl(url)}.`, { phase, timeoutMs });
}

function tooLarge(url: URL, limitBytes: number, extra: Record<string, unknown>): AppError {
  return new AppError(
    'TOO_LARGE',
    `The response from ${describeUrl(url)} is larger than the ${limitBytes}-byte limit.`,
    { limitBytes, ...extra },
  );
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_PINNED_ADDRESS_MISMATCH',
]);

function isTlsError(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.includes('CERT') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'
  );
}

/** Undici and socket errors become coded errors. Their messages are not reused: only codes are. */
function toAppError(error: unknown, url: URL, address: string, connectTimeoutMs: number): AppError {
  if (isAppError(error)) return error;
  const code = errorCode(error) ?? 'UNKNOWN';
  const where = describeUrl(url);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT': {
      const timeout = timeoutError(url, 'connect', connectTimeoutMs);
      return new AppError('TIMEOUT', timeout.message, { ...timeout.details, address });
    }
    case 'UND_ERR_INVALID_ARG':
      return new AppError('INVALID', `The request to ${where} has an invalid header or option.`, { cause: code });
    case 'ECONNREFUSED':
      return new AppError('CONNECTION_FAILED', `${where} refused the connection (${address}).`, { address, cause: code });
    default:
      if (code.startsWith('Z_') || code === 'ERR_BROTLI') {
        return new AppError('CONNECTION_FAILED', `The response body from ${where} could not be decompressed.`, {
          cause: code,
        });
      }
      if (isTlsError(code)) {
        return new AppError('CONNECTION_FAILED', `The TLS handshake with ${where} failed (${code}).`, { address, cause: code });
      }
      return new AppError('CONNECTION_FAILED', `The connection to ${where} failed (${code}).`, { address, cause: code });
  }
}

// ---------------------------------------------------------------------------------------------
// Transport

class PinnedAddressMismatchError extends Error {
  readonly code = 'ERR_PINNED_ADDRESS_MISMATCH';
}

/**
 * Connects to the pre-checked address and nothing else (no second DNS lookup that could be
 * rebound), while TLS still sends SNI for and verifies the certificate against the URL's hostname.
 */
function pinnedConnector(
  target: Target,
  url: URL,
  connectTimeoutMs: number,
): buildConnector.connector {
  const base = buildConnector({ timeout: connectTimeoutMs });
  const hostname = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname;
  const servername = parseIpLiteral(hostname) ? undefined : hostname;
  return (options, callback) => {
    base({ ...options, hostname: target.address, ...(servername ? { servername } : {}) }, (error, socket) => {
      if (error || !socket) {
        callback(error ?? new Error('connect failed'), null);
        return;
      }
      const remote = socket.remoteAddress ? normalizeIp(socket.remoteAddress)?.address : undefined;
      if (remote !== target.address) {
        socket.destroy();
        callback(new PinnedAddressMismatchError('connected to an unexpected address'), null);
        return;
      }
      callback(null, socket);
    });
  };
}

function buildRequestHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const key = name.toLowerCase();
    if (!DROPPED_REQUEST_HEADERS.has(key)) out[key] = value;
  }
  out['accept-encoding'] ??= 'gzip, deflate, br';
  out['user-agent'] ??= 'Registrar';
  return out;
}

/** Drops a response body we will not read, closing the connection rather than draining it. */
function discard(body: Readable): void {
  body.destroy();
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

type Decoding = 'gzip' | 'deflate' | 'br';

function contentEncodings(url: URL, header: string | null): Decoding[] {
  if (!header) return [];
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length > MAX_CONTENT_ENCODINGS) {
    throw new AppError('CONNECTION_FAILED', `The response from ${describeUrl(url)} stacks too many content encodings.`, {
      contentEncoding: header,
    });
  }
  return codings.map((c) => {
    if (c === 'gzip' || c === 'x-gzip') return 'gzip';
    if (c === 'deflate' || c === 'br') return c;
    throw new AppError('CONNECTION_FAILED', `The response from ${describeUrl(url)} uses an unsupported content encoding.`, {
      contentEncoding: c,
    });
  });
}

function createDecoder(encoding: Decoding, firstChunk: Buffer): zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress {
  // Tolerate a missing end marker like browsers do; the size cap still applies.
  const options = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  switch (encoding) {
    case 'gzip':
      return zlib.createGunzip(options);
    case 'deflate':
      // "deflate" should be zlib-wrapped (RFC 9110) but some servers send raw deflate.
      return (firstChunk[0]! & 0x0f) === 0x08 ? zlib.createInflate(options) : zlib.createInflateRaw(options);
    case 'br':
      return zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
  }
}

/** A pipeline stage that decodes one content coding, pulling only as fast as it is read. */
function decodeStage(encoding: Decoding) {
  return async function* decode(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const iterator = source[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) return;
    const decoder = createDecoder(encoding, first.value);
    const input = Readable.from(
      (async function* () {
        yield first.value;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
      })(),
    );
    const feeding = pipeline(input, decoder).catch(() => {
      // Errors surface through the decoder, which pipeline destroys with them.
    });
    try {
      for await (const chunk of decoder) yield chunk as Buffer;
    } finally {
      input.destroy();
      decoder.destroy();
      await feeding;
    }
  };
}

async function readBody(
  url: URL,
  body: Readable,
  encodings: readonly Decoding[],
  maxBodyBytes: number,
): Promise<Uint8Array> {
  // Compressed input longer than the decoded cap allows (plus framing overhead) is refused too,
  // so a stream of empty deflate blocks cannot run forever.
  const rawLimit = encodings.length === 0 ? maxBodyBytes : maxBodyBytes + Math.ceil(maxBodyBytes / 64) + 1024;
  let rawBytes = 0;
  let decodedBytes = 0;
  const chunks: Buffer[] = [];

  if (encodings.length === 0) {
    // Nothing to decode (the usual case): read it directly. A pipeline would cost more than the
    // read (an AbortController and an abort exception per call), and ending the loop early
    // destroys the body just the same.
    for await (const chunk of body as AsyncIterable<Buffer>) {
      rawBytes += chunk.length;
      if (rawBytes > rawLimit) throw tooLarge(url, maxBodyBytes, { receivedBytes: rawBytes, encoded: false });
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, rawBytes);
  }

  const countRaw = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      rawBytes += chunk.length;
      if (rawBytes > rawLimit) throw tooLarge(url, maxBodyBytes, { receivedBytes: rawBytes, encoded: encodings.length > 0 });
      yield chunk;
    }
  };
  const collect = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      decodedBytes += chunk.length;
      if (decodedBytes > maxBodyBytes) throw tooLarge(url, maxBodyBytes, { receivedBytes: decodedBytes });
      chunks.push(chunk);
    }
  };

  // Content codings are listed in the order applied, so they are undone last-first.
  const stages = [...encodings].reverse().map(decodeStage);
  await (pipeline as (...streams: unknown[]) => Promise<void>)(body, countRaw, ...stages, collect);
  return Buffer.concat(chunks, decodedBytes);
}

// ---------------------------------------------------------------------------------------------
// Response

function makeResponse(url: URL, status: number, headers: Headers, body: Uint8Array, remoteAddress: string): SafeResponse {
  const where = describeUrl(url);
  return {
    status,
    headers,
    url: url.href,
    body,
    remoteAddress,
    text() {
      // TextDecoder drops a leading BOM by default.
      return new TextDecoder('utf-8').decode(body);
    },
    json() {
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        throw new AppError('INVALID_JSON', `The response from ${where} is not valid UTF-8 text.`, { status });
      }
      try {
        // Prototype-pollution guard: these keys are dropped, so a later merge cannot misuse them.
        return parseJsonWithoutUnsafeKeys(text.trim());
      } catch {
        // The parser's message quotes the body, which may hold a client secret.
        throw new AppError('INVALID_JSON', `The response from ${where} is not valid JSON.`, {
          status,
          contentType: headers.get('content-type'),
          bytes: body.byteLength,
        });
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// safeFetch

/** Idle connections close after this (below Node's and most servers' 5 s, so a server never closes one under a request). */
const KEEP_ALIVE_MS = 4_000;
const MAX_POOLS = 128;
const pools = new Map<string, Pool>();

/**
 * Connections kept alive between requests to one origin at one checked address: a hospital's server
 * answers many calls in a row (a bulk rotation, a refresh of every issuer), and a new TCP (and TLS)
 * connection per call costs both sides more than the call. Reuse skips no check: the policy and the
 * DNS answer are checked for every request, and a connection serves only requests that resolved to
 * the address it is pinned to. Least recently used pools beyond MAX_POOLS are closed; idle sockets
 * close after KEEP_ALIVE_MS and never keep the process alive.
 */
function pooledConnections(url: URL, target: Target, connectTimeoutMs: number, headersTimeoutMs: number, totalTimeoutMs: number): Pool {
  const key = `${url.origin}|${target.address}|${connectTimeoutMs}|${headersTimeoutMs}|${totalTimeoutMs}`;
  const existing = pools.get(key);
  if (existing && !existing.closed && !existing.destroyed) {
    pools.delete(key);
    pools.set(key, existing);
    return existing;
  }
  const pool = new Pool(url.origin, {
    connect: pinnedConnector(target, url, connectTimeoutMs),
    // Backstops only: our own timers (started before DNS) fire first and name the phase.
    headersTimeout: headersTimeoutMs + 1_000,
    bodyTimeout: totalTimeoutMs + 1_000,
    pipelining: 1,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
  });
  pools.set(key, pool);
  if (pools.size > MAX_POOLS) {
    const [oldestKey, oldest] = pools.entries().next().value!;
    pools.delete(oldestKey);
    void oldest.close().catch(() => undefined);
  }
  return pool;
}

/** Closes every kept-alive connection (tests that count connections, shutdown). */
export async function closeOutboundConnections(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close().catch(() => undefined)));
}

/**
 * SSRF-safe request to an authorization server: https only (unless allowlisted), every resolved
 * address checked, connection pinned to the checked address, no redirects, bounded time and size.
 */
export async function safeFetch(input: string | URL, init: SafeFetchInit = {}): Promise<SafeResponse> {
  const url = parseTarget(input);
  const connectTimeoutMs = init.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  const headersTimeoutMs = init.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs;
  const totalTimeoutMs = init.totalTimeoutMs ?? DEFAULTS.totalTimeoutMs;
  const maxBodyBytes = init.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const userSignal = init.signal;
  userSignal?.throwIfAborted();

  const allowlist = init.policy?.allowlist ?? (await defaultAllowlist());

  // Cheap refusal before any DNS traffic: http needs some allowlist entry that could permit it.
  if (url.protocol === 'http:') {
    const hostAllowsHttp = matchHostEntries(allowlist, url.hostname, effectivePort(url)).some((e) => e.allowHttp);
    if (!hostAllowsHttp && !allowlist.some((e) => e.kind === 'cidr' && e.allowHttp)) throw insecureScheme(url);
  }

  const controller = new AbortController();
  let timedOut: { phase: TimeoutPhase; timeoutMs: number } | undefined;
  const expire = (phase: TimeoutPhase, timeoutMs: number) => () => {
    timedOut ??= { phase, timeoutMs };
    controller.abort(timeoutError(url, phase, timeoutMs));
  };
  const totalTimer = setTimeout(expire('total', totalTimeoutMs), totalTimeoutMs);
  const headersTimer = setTimeout(expire('headers', headersTimeoutMs), headersTimeoutMs);
  const onUserAbort = () => controller.abort(userSignal?.reason);
  userSignal?.addEventListener('abort', onUserAbort, { once: true });

  const fail = (error: unknown, address: string): never => {
    if (timedOut) throw timeoutError(url, timedOut.phase, timedOut.timeoutMs);
    if (userSignal?.aborted) throw userSignal.reason;
    throw toAppError(error, url, address, connectTimeoutMs);
  };

  try {
    let targets: Target[];
    try {
      targets = checkTargets(url, await resolveTargets(url, init.resolve ?? defaultResolver, controller.signal), allowlist);
    } catch (error) {
      return fail(error, url.hostname);
    }

    const headers = buildRequestHeaders(init.headers);
    const path = `${url.pathname}${url.search}`;

    for (const [index, target] of targets.entries()) {
      const client = pooledConnections(url, target, connectTimeoutMs, headersTimeoutMs, totalTimeoutMs);
      try {
        const response = await client.request({
          path,
          method: init.method ?? 'GET',
          headers,
          body: init.body,
          signal: controller.signal,
        });
        clearTimeout(headersTimer);
        // Whatever happens next, a body we stop reading must not surface as an uncaught error.
        response.body.on('error', () => undefined);
        const responseHeaders = toHeaders(response.headers);

        if (response.statusCode >= 300 && response.statusCode < 400) {
          discard(response.body);
          const location = response.headers.location;
          let locationHost: string | null = null;
          try {
            locationHost = typeof location === 'string' ? new URL(location, url).host : null;
          } catch {
            locationHost = null;
          }
          throw new AppError(
            'UNEXPECTED_REDIRECT',
            `${describeUrl(url)} answered with a redirect (HTTP ${response.statusCode}); redirects are not followed.`,
            { status: response.statusCode, location: locationHost },
          );
        }

        const declared = Number(responseHeaders.get('content-length') ?? NaN);
        if (Number.isFinite(declared) && declared > maxBodyBytes) {
          discard(response.body);
          throw tooLarge(url, maxBodyBytes, { contentLength: declared });
        }

        let encodings: Decoding[];
        try {
          encodings = contentEncodings(url, responseHeaders.get('content-encoding'));
        } catch (error) {
          // Unread, the body would fill the socket's buffers and undici would pause it, where no
          // body timeout fires: a hostile server could keep one socket per request open.
          discard(response.body);
          throw error;
        }
        const body = await readBody(url, response.body, encodings, maxBodyBytes);
        return makeResponse(url, response.statusCode, responseHeaders, body, target.address);
      } catch (error) {
        // These codes only arise while connecting, so nothing was sent: the next checked address may be tried.
        const retryable = !timedOut && !controller.signal.aborted && index < targets.length - 1;
        if (retryable && CONNECT_ERROR_CODES.has(errorCode(error) ?? '')) continue;
        return fail(error, target.address);
      }
    }
    // Unreachable: the loop returns or throws on its last target.
    throw new AppError('CONNECTION_FAILED', `Could not connect to ${describeUrl(url)}.`);
  } finally {
    clearTimeout(totalTimer);
    clearTimeout(headersTimer);
    userSignal?.removeEventListener('abort', onUserAbort);
  }
}

// ---------------------------------------------------------------------------------------------
// customFetch adapter

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;
type Method = (typeof METHODS)[number];

function toMethod(method: string | undefined): Method {
  const upper = (method ?? 'GET').toUpperCase();
  const found = METHODS.find((m) => m === upper);
  if (!found) throw new AppError('INVALID', `HTTP method ${upper} is not supported for outbound calls.`);
  return found;
}

async function toBody(body: RequestInit['body'], headers: Record<string, string>): Promise<string | Uint8Array | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    return body.toString();
  }
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
  if (body instanceof ReadableStream) return new Uint8Array(await new Response(body).arrayBuffer());
  throw new AppError('INVALID', 'This request body type is not supported for outbound calls.');
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * `customFetch` for openid-client / oauth4webapi: every library call goes through safeFetch.
 * A 3xx rejects with UNEXPECTED_REDIRECT exactly as safeFetch does; it is never followed.
 */
export function safeCustomFetch(
  init: Omit<SafeFetchInit, 'method' | 'headers' | 'body' | 'signal'> = {},
): (url: string, options: RequestInit) => Promise<Response> {
  return async (url, options) => {
    const headers: Record<string, string> = {};
    new Headers(options.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = await toBody(options.body, headers);
    const result = await safeFetch(url, {
      ...init,
      method: toMethod(options.method),
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const response = new Response(NULL_BODY_STATUSES.has(result.status) ? null : new Uint8Array(result.body), {
      status: result.status,
      headers: result.headers,
    });
    // Response.url is read-only and empty for constructed responses; the libraries read it.
    Object.defineProperty(response, 'url', { value: result.url });
    return response;
  };
}
