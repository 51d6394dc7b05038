import { randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { startFakeRegistrationServer } from './fake-registration-server';

/** A client as the fake server holds it. */
export type FakeRfc7592Client = { record: Record<string, unknown>; secret: string; rat: string; puts: number; secretsIssued: number };

/** What the next PUTs do wrong (or differently), chosen by each test. */
export type FakeRfc7592Faults = {
  /** Committed, but the answer never arrives (the connection is cut). */
  dropPutAnswer?: boolean;
  /** The PUT also replaces the registration access token. */
  rotateRatOnPut?: boolean;
  put401?: boolean;
  put503?: boolean;
  /** Committed, but the answer names another client (once). */
  answerForOtherClient?: boolean;
  /** Issue a new secret on this PUT although the server's default is to keep it. */
  issueNewSecretOnPut?: boolean;
};

const token = () => randomBytes(18).toString('base64url');

function json(res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/**
 * A hand-written RFC 7591/7592 server on loopback for the faults a certified server never
 * produces: it registers clients (POST /register), reads and updates them with their registration
 * access token (GET/PUT /manage/{id}; a PUT naming a credential field is refused), and has a token
 * endpoint (POST /token, client_secret_basic) that accepts only a client's current secret, so a
 * verification against it is real. `newSecretOnPut`: whether an update issues a new client_secret
 * (node-oidc-provider never does); either way the answer repeats the secret it now holds.
 */
export async function startFakeRfc7592Server(opts: { newSecretOnPut: boolean; clientIdPrefix: string; secretTtlSeconds?: number }) {
  const fake = await startFakeRegistrationServer();
  const ttl = opts.secretTtlSeconds ?? 3600;
  const clients = new Map<string, FakeRfc7592Client>();
  const state: { faults: FakeRfc7592Faults } = { faults: {} };
  const answer = (client: FakeRfc7592Client, extra: Record<string, unknown> = {}) => ({
    ...client.record,
    client_secret: client.secret,
    registration_access_token: client.rat,
    registration_client_uri: `${fake.origin}/manage/${String(client.record.client_id)}`,
    ...extra,
  });

  fake.setBehaviour((req, body, res) => {
    const url = req.url ?? '';
    const faults = state.faults;
    if (req.method === 'POST' && url === '/register') {
      const clientId = `${opts.clientIdPrefix}-${randomUUID()}`;
      const now = Math.floor(Date.now() / 1000);
      const client: FakeRfc7592Client = {
        record: { ...(JSON.parse(body) as Record<string, unknown>), client_id: clientId, client_id_issued_at: now, client_secret_expires_at: now + ttl },
        secret: `s-${token()}`,
        rat: token(),
        puts: 0,
        secretsIssued: 1,
      };
      clients.set(clientId, client);
      return json(res, 201, answer(client));
    }
    if (req.method === 'POST' && url === '/token') {
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' '))) : [];
      const client = id ? clients.get(id) : undefined;
      if (!client || client.secret !== secret) return json(res, 401, { error: 'invalid_client' });
      return json(res, 200, { access_token: token(), token_type: 'Bearer', expires_in: 300 });
    }
    const match = /^\/manage\/([^/?]+)$/.exec(url);
    const client = match ? clients.get(decodeURIComponent(match[1]!)) : undefined;
    if (!client) return json(res, 404, { error: 'not_found' });
    if (req.headers.authorization !== `Bearer ${client.rat}`) return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    if (req.method === 'GET') return json(res, 200, answer(client));
    if (req.method === 'PUT') {
      if (faults.put401) return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      if (faults.put503) return json(res, 503, { error: 'temporarily_unavailable' });
      const sent = JSON.parse(body) as Record<string, unknown>;
      if ('client_secret' in sent || 'registration_access_token' in sent) return json(res, 400, { error: 'invalid_request' });
      client.puts++;
      let expiresAt = client.record.client_secret_expires_at;
      if (opts.newSecretOnPut || faults.issueNewSecretOnPut) {
        client.secretsIssued++;
        client.secret = `s-${token()}`; // the old secret stops working at once
        expiresAt = Math.floor(Date.now() / 1000) + ttl;
      }
      client.record = { ...sent, client_id_issued_at: client.record.client_id_issued_at, client_secret_expires_at: expiresAt };
      if (faults.rotateRatOnPut) client.rat = token();
      if (faults.dropPutAnswer) {
        res.socket?.destroy();
        return;
      }
      if (faults.answerForOtherClient) {
        faults.answerForOtherClient = false;
        return json(res, 200, answer(client, { client_id: 'someone-else' }));
      }
      return json(res, 200, answer(client));
    }
    return json(res, 405);
  });

  return {
    origin: fake.origin,
    requests: fake.requests,
    clients,
    /** What the next PUTs do wrong; a test sets it, and resets it with `{}`. */
    get faults(): FakeRfc7592Faults {
      return state.faults;
    },
    set faults(value: FakeRfc7592Faults) {
      state.faults = value;
    },
    close: fake.close,
  };
}
