import 'server-only';

import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A hand-written misbehaving authorization server on loopback, one scenario per first path
 * segment: `/{scenario}/...` for documents under a base, and
 * `/.well-known/oauth-authorization-server/{scenario}/...` for RFC 8414 (the handler sees
 * `8414:` followed by the rest of the issuer path). Unhandled paths answer 404 JSON.
 */
export type ScenarioHandler = (rest: string, req: IncomingMessage, res: ServerResponse) => boolean | void;

export type RecordedRequest = { scenario: string; rest: string; headers: IncomingMessage['headers'] };

export type MisbehavingServer = {
  origin: string;
  port: number;
  requests: RecordedRequest[];
  /** Most requests in flight at once since the last reset. */
  maxInFlight: number;
  resetStats(): void;
  close(): Promise<void>;
};

const RFC8414_PREFIX = '/.well-known/oauth-authorization-server/';

export async function startMisbehavingServer(
  scenarios: (origin: string) => Record<string, ScenarioHandler>,
): Promise<MisbehavingServer> {
  let table: Record<string, ScenarioHandler> = {};
  const sockets = new Set<Socket>();
  const state = { inFlight: 0, maxInFlight: 0 };
  const requests: RecordedRequest[] = [];

  const server: Server = createServer((req, res) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      state.inFlight--;
    };
    res.on('close', finish);
    res.on('error', () => undefined);

    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let scenario: string;
    let rest: string;
    if (path.startsWith(RFC8414_PREFIX)) {
      const tail = path.slice(RFC8414_PREFIX.length);
      scenario = tail.split('/')[0] ?? '';
      rest = `8414:${tail.slice(scenario.length)}`;
    } else {
      scenario = path.split('/')[1] ?? '';
      rest = path.slice(scenario.length + 1);
    }
    requests.push({ scenario, rest, headers: req.headers });
    const handler = Object.hasOwn(table, scenario) ? table[scenario] : undefined;
    if (handler && handler(rest, req, res) !== false) return;
    const body = JSON.stringify({ error: 'not_found' });
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  table = scenarios(origin);

  return {
    origin,
    port,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    resetStats() {
      state.maxInFlight = state.inFlight;
      requests.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}

/** Sends a JSON body (or a raw string, sent exactly as given). */
export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
  return true;
}
