import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLocalJWKSet, decodeJwt, importJWK, jwtVerify, type JWK, type JSONWebKeySet } from 'jose';
import { ADMIN_IAT_PATH, handleMintRequest, UseLimiter, type MintedToken, type MintOptions } from './admin';
import {
  BodyTooLargeError,
  bearerToken,
  isRecord,
  listenLoopback,
  pathOf,
  readBody,
  sendBearerChallenge,
  sendJson,
  sendOAuthError,
} from './http';
import { capabilityStatement, FHIR_JSON, notFoundOutcome, smartConfiguration, SMART_V1_SCOPES } from './smart';
import type { HospitalInfo } from './types';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

type EpicClient = { clientId: string; softwareId: string; jwks: JSONWebKeySet; issuedAt: number };

export type EpicServer = {
  info: HospitalInfo;
  mintInitialAccessToken(opts: Required<MintOptions>): Promise<MintedToken>;
  close(): Promise<void>;
};

/**
 * An Epic-like authorization server, hand-written because Epic departs from RFC 7591/7592 in ways
 * oidc-provider cannot be bent into: the registration body is exactly `{software_id, jwks}`, the
 * answer has no secret, no registration_client_uri and no RAT, and `register` is advertised only
 * to callers that send `Epic-Client-ID`.
 */
export async function startEpicServer(opts: { port: number; adminToken: string; log: (line: string) => void }): Promise<EpicServer> {
  const listening = await listenLoopback(opts.port);
  const { origin } = listening;
  const issuer = `${origin}/oauth2`;
  const fhirBase = `${origin}/api/FHIR/R4`;
  const endpoints = {
    authorize: `${issuer}/authorize`,
    token: `${issuer}/token`,
    register: `${issuer}/register`,
    jwks: `${issuer}/jwks`,
    introspect: `${issuer}/introspect`,
  };

  const clients = new Map<string, EpicClient>();
  const tokens = new Map<string, { expiresAt: number }>();
  const limiter = new UseLimiter();
  const seenJtis = new Map<string, number>();

  const mint = async ({ expiresInSeconds, uses }: Required<MintOptions>): Promise<MintedToken> => {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = Math.floor(Date.now() / 1000) + expiresInSeconds;
    tokens.set(token, { expiresAt });
    limiter.track(token, uses);
    return { token, expiresAt, uses };
  };

  const scopes = ['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access', ...SMART_V1_SCOPES];
  const discovery = (withRegistration: boolean) => ({
    issuer,
    authorization_endpoint: endpoints.authorize,
    token_endpoint: endpoints.token,
    jwks_uri: endpoints.jwks,
    ...(withRegistration ? { registration_endpoint: endpoints.register } : {}),
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token', JWT_BEARER],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ['RS256', 'RS384', 'ES384'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: scopes,
    code_challenge_methods_supported: ['S256'],
  });
  const smart = (withRegistration: boolean) =>
    smartConfiguration({
      issuer,
      jwksUri: endpoints.jwks,
      authorizationEndpoint: endpoints.authorize,
      tokenEndpoint: endpoints.token,
      registrationEndpoint: withRegistration ? endpoints.register : undefined,
      introspectionEndpoint: endpoints.introspect,
      grantTypes: ['authorization_code', 'refresh_token', JWT_BEARER],
      capabilities: [
        'launch-ehr',
        'launch-standalone',
        'client-public',
        'client-confidential-symmetric',
        'client-confidential-asymmetric',
        'sso-openid-connect',
        'context-ehr-patient',
        'context-standalone-patient',
        'permission-offline',
        'permission-patient',
        'permission-user',
        'permission-v1',
      ],
      scopes,
      authMethods: ['client_secret_basic', 'private_key_jwt', 'none'],
      signingAlgs: ['RS256', 'RS384', 'ES384'],
    });
  const metadata = (withRegistration: boolean) =>
    capabilityStatement({
      fhirBase,
      name: 'Epic-like Health System',
      software: 'Epic (sandbox imitation)',
      oauth: {
        authorize: endpoints.authorize,
        token: endpoints.token,
        ...(withRegistration ? { register: endpoints.register } : {}),
      },
    });

  /** Epic returns per-client endpoints, and `register`, only to callers naming their client. */
  const hasEpicClientId = (req: IncomingMessage) => {
    const value = req.headers['epic-client-id'];
    return typeof value === 'string' && value.trim() !== '';
  };

  async function register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const presented = bearerToken(req);
    const iat = presented ? tokens.get(presented) : undefined;
    if (!presented || !iat || iat.expiresAt <= Math.floor(Date.now() / 1000)) {
      sendBearerChallenge(res, issuer, presented !== undefined, presented ? 'initial access token is invalid or expired' : 'an initial access token is required');
      return;
    }
    const reserved = limiter.reserve(presented);
    if (reserved !== 'reserved') {
      sendBearerChallenge(res, issuer, true, 'initial access token has no uses left');
      return;
    }
    let created = false;
    try {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        sendOAuthError(res, 400, 'invalid_request', err instanceof BodyTooLargeError ? err.message : 'body must be JSON');
        return;
      }
      const problem = await validateRegistration(body);
      if (problem) {
        sendOAuthError(res, 400, 'invalid_client_metadata', problem);
        return;
      }
      const { software_id: softwareId, jwks } = body as { software_id: string; jwks: JSONWebKeySet };
      const client: EpicClient = {
        clientId: `G${randomUUID().toUpperCase()}`,
        softwareId,
        jwks,
        issuedAt: Math.floor(Date.now() / 1000),
      };
      clients.set(client.clientId, client);
      created = true;
      sendJson(res, 201, {
        client_id: client.clientId,
        software_id: client.softwareId,
        jwks: client.jwks,
        token_endpoint_auth_method: 'none',
        grant_types: [JWT_BEARER],
        client_id_issued_at: client.issuedAt,
      });
    } finally {
      if (!created) limiter.release(presented);
      else if (limiter.isExhausted(presented)) {
        tokens.delete(presented);
        limiter.forget(presented);
      }
    }
  }

  /** RFC 7523 §2.1: a JWT signed with the registered key, iss = sub = client_id, aud = token endpoint. */
  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let params: URLSearchParams;
    try {
      params = new URLSearchParams(await readBody(req, 64 * 1024));
    } catch {
      sendOAuthError(res, 400, 'invalid_request', 'unreadable body');
      return;
    }
    const grantType = params.get('grant_type');
    if (grantType !== JWT_BEARER) {
      sendOAuthError(res, 400, 'unsupported_grant_type', `the sandbox Epic token endpoint supports ${JWT_BEARER} only`);
      return;
    }
    const assertion = params.get('assertion');
    if (!assertion) {
      sendOAuthError(res, 400, 'invalid_request', 'assertion is required');
      return;
    }
    let clientId: unknown;
    try {
      clientId = decodeJwt(assertion).iss;
    } catch {
      sendOAuthError(res, 400, 'invalid_grant', 'assertion is not a JWT');
      return;
    }
    const client = typeof clientId === 'string' ? clients.get(clientId) : undefined;
    if (!client) {
      sendOAuthError(res, 400, 'invalid_client', 'iss is not a registered client_id');
      return;
    }
    try {
      const { payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
        issuer: client.clientId,
        subject: client.clientId,
        audience: endpoints.token,
        algorithms: ['RS256', 'RS384', 'ES384'],
        requiredClaims: ['exp', 'jti'],
      });
      const now = Math.floor(Date.now() / 1000);
      if (typeof payload.exp === 'number' && payload.exp > now + 300) throw new Error('exp must be at most 5 minutes ahead');
      const jti = String(payload.jti);
      if (jti.length > 151) throw new Error('jti must be at most 151 characters');
      for (const [key, exp] of seenJtis) if (exp < now) seenJtis.delete(key);
      const replayKey = `${client.clientId}:${jti}`;
      if (seenJtis.has(replayKey)) throw new Error('jti was already used');
      seenJtis.set(replayKey, payload.exp ?? now + 300);
    } catch (err) {
      sendOAuthError(res, 400, 'invalid_grant', err instanceof Error ? err.message : 'assertion rejected');
      return;
    }
    const requested = params.get('scope');
    sendJson(res, 200, {
      access_token: randomBytes(32).toString('base64url'),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: requested ?? 'patient/*.read',
    });
  }

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req);
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && path === '/api/FHIR/R4/metadata') {
      sendJson(res, 200, metadata(hasEpicClientId(req)), { 'content-type': FHIR_JSON, 'cache-control': 'no-cache' });
    } else if (get && path === '/api/FHIR/R4/.well-known/smart-configuration') {
      sendJson(res, 200, smart(hasEpicClientId(req)), { 'cache-control': 'no-cache' });
    } else if (path.startsWith('/api/FHIR/R4')) {
      sendJson(res, 404, notFoundOutcome(path), { 'content-type': FHIR_JSON });
    } else if (get && (path === '/oauth2/.well-known/openid-configuration' || path === '/.well-known/oauth-authorization-server/oauth2')) {
      sendJson(res, 200, discovery(hasEpicClientId(req)), { 'cache-control': 'no-cache' });
    } else if (get && path === '/oauth2/jwks') {
      sendJson(res, 200, { keys: [] });
    } else if (path === '/oauth2/authorize') {
      const html = '<!doctype html><meta charset="utf-8"><title>Epic sandbox</title><h1>Epic-like sandbox</h1><p>Interactive sign-in is not simulated here.</p>';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
      res.end(html);
    } else if (path === '/oauth2/token') {
      if (req.method !== 'POST') sendOAuthError(res, 405, 'invalid_request', 'use POST', { allow: 'POST' });
      else await token(req, res);
    } else if (path === '/oauth2/register') {
      if (req.method !== 'POST') sendOAuthError(res, 405, 'invalid_request', 'use POST', { allow: 'POST' });
      else await register(req, res);
    } else if (path === ADMIN_IAT_PATH) {
      await handleMintRequest(req, res, { adminToken: opts.adminToken, realm: issuer, mint });
    } else {
      sendJson(res, 404, { error: 'not_found', error_description: `the sandbox does not serve ${path}` });
    }
  };
  listening.setHandler((req, res) => {
    route(req, res).catch((err: unknown) => {
      opts.log(`[epic] ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'sandbox failure' });
      else res.destroy();
    });
  });

  return {
    info: { key: 'epic', name: 'Epic-like Health System', origin, issuer, fhirBase, registrationEndpoint: endpoints.register },
    mintInitialAccessToken: mint,
    close: () => listening.close(),
  };
}

/** Epic's registration body is exactly `{software_id, jwks}` with public RSA/EC keys that carry a kid. */
export async function validateRegistration(body: unknown): Promise<string | undefined> {
  if (!isRecord(body)) return 'the body must be a JSON object';
  const extra = Object.keys(body).filter((k) => k !== 'software_id' && k !== 'jwks');
  if (extra.length > 0) return `unsupported member(s): ${extra.join(', ')}; the body must be exactly {software_id, jwks}`;
  if (typeof body.software_id !== 'string' || body.software_id.trim() === '') return 'software_id must be a non-empty string';
  const { jwks } = body;
  if (!isRecord(jwks) || !Array.isArray(jwks.keys) || jwks.keys.length === 0) return 'jwks must be an object with a non-empty keys array';
  for (const [i, key] of jwks.keys.entries()) {
    if (!isRecord(key)) return `jwks.keys[${i}] must be an object`;
    if (key.kty !== 'RSA' && key.kty !== 'EC') return `jwks.keys[${i}].kty must be RSA or EC`;
    if (typeof key.kid !== 'string' || key.kid === '') return `jwks.keys[${i}] needs a kid`;
    const priv = PRIVATE_JWK_MEMBERS.filter((m) => m in key);
    if (priv.length > 0) return `jwks.keys[${i}] contains private key material (${priv.join(', ')})`;
    try {
      await importJWK(key as JWK, typeof key.alg === 'string' ? key.alg : key.kty === 'RSA' ? 'RS384' : ecAlg(key.crv));
    } catch (err) {
      return `jwks.keys[${i}] is not a usable public key: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return undefined;
}

function ecAlg(crv: unknown): string {
  return crv === 'P-384' ? 'ES384' : crv === 'P-521' ? 'ES512' : 'ES256';
}
