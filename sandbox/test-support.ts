/** Helpers for the sandbox's own tests (plain fetch, as a client of the hospitals would do). */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export type JsonResponse = { status: number; headers: Headers; body: Record<string, unknown> };

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await fetch(url, { headers: { accept: 'application/json', ...headers } });
  return { status: res.status, headers: res.headers, body: await bodyOf(res) };
}

export async function sendJson(
  method: 'POST' | 'PUT' | 'DELETE' | 'GET',
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await bodyOf(res) };
}

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: await bodyOf(res) };
}

async function bodyOf(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  if (text === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { value: parsed };
  } catch {
    return { text };
  }
}

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded before base64. */
export function basicAuth(clientId: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export type TestKey = { alg: 'ES384' | 'RS384'; kid: string; privateKey: CryptoKey; publicJwk: JWK };

export async function makeKey(alg: 'ES384' | 'RS384'): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `test-${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A private_key_jwt client assertion (RFC 7523 §3). */
export function clientAssertion(key: TestKey, clientId: string, audience: string, alg: string = key.alg): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(key.privateKey);
}

/** Serves a JWKS on 127.0.0.1 (a client's jwks_uri). */
export async function serveJwks(jwks: { keys: JWK[] }): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/jwks.json`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const OAUTH_URIS_EXTENSION = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

/** The SMART oauth-uris sub-extensions of a CapabilityStatement, as {name: uri}. */
export function oauthUris(capabilityStatement: Record<string, unknown>): Record<string, string> {
  const rest = capabilityStatement.rest as Array<{ security?: { extension?: Array<{ url: string; extension?: Array<{ url: string; valueUri: string }> }> } }>;
  const ext = rest[0]?.security?.extension?.find((e) => e.url === OAUTH_URIS_EXTENSION);
  return Object.fromEntries((ext?.extension ?? []).map((e) => [e.url, e.valueUri]));
}
