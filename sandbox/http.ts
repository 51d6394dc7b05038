import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export type Listening = {
  server: Server;
  origin: string;
  /** Replaces the handler; servers start before they know their own origin (port 0). */
  setHandler(handler: RequestHandler): void;
  close(): Promise<void>;
};

/** Listens on 127.0.0.1 only. Port 0 picks an ephemeral port. */
export async function listenLoopback(port: number): Promise<Listening> {
  let current: RequestHandler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => current(req, res));
  // Benchmarks reuse connections; the default 5 s would close them between bursts.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  let closing: Promise<void> | undefined;
  return {
    server,
    origin: `http://127.0.0.1:${address.port}`,
    setHandler(handler) {
      current = handler;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets held by clients would keep close() waiting forever.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendOAuthError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error, error_description: description }, headers);
}

/** RFC 6750 §3: a missing token gets a bare challenge; a bad one names `invalid_token`. */
export function sendBearerChallenge(res: ServerResponse, realm: string, hasToken: boolean, description: string): void {
  const challenge = hasToken
    ? `Bearer realm="${realm}", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`
    : `Bearer realm="${realm}"`;
  sendOAuthError(res, 401, 'invalid_token', description, { 'www-authenticate': challenge });
}

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage, limit = 256 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) throw new BodyTooLargeError(`request body exceeds ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The bearer token from the Authorization header, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
