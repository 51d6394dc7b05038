import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeBehaviour = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void | Promise<void>;

/**
 * A hand-written registration endpoint on loopback whose answer each test chooses: faults that the
 * sandbox's certified server never produces (200 instead of 201, HTML 500, hangs, bad expiry).
 */
export async function startFakeRegistrationServer() {
  let behaviour: FakeBehaviour = (_req, _body, res) => {
    res.statusCode = 404;
    res.end();
  };
  const requests: Array<{ method: string; url: string; body: string; authorization: string | undefined }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', body, authorization: req.headers.authorization });
      void behaviour(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    setBehaviour(b: FakeBehaviour) {
      behaviour = b;
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A 201/200 registration answer echoing the request with the given extra members. */
export function registrationAnswer(status: number, extra: Record<string, unknown>): FakeBehaviour {
  return (_req, body, res) => {
    const metadata = JSON.parse(body || '{}') as Record<string, unknown>;
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ...metadata, client_id: `fake-${Math.random().toString(36).slice(2, 10)}`, client_id_issued_at: Math.floor(Date.now() / 1000), ...extra }));
  };
}
