import 'server-only';

import { randomUUID } from 'node:crypto';

import { SignJWT, importPKCS8 } from 'jose';

import { AppError } from '@/lib/errors';
import { safeFetch, type SafeResponse } from '@/lib/oauth/safe-fetch';

import { Redactor, httpError, transportError, unusableSuccessError } from './errors';
import { isRecord, parseJsonSafely } from './fields';
import type { RegistrationFetchInit } from './types';

export type SigningAlg = 'RS256' | 'RS384' | 'ES256' | 'ES384';

/** Imports a PKCS#8 PEM private key for `alg`; the error never quotes the key. */
export async function importSigningKey(pem: string, alg: SigningAlg): Promise<CryptoKey> {
  try {
    return await importPKCS8(pem, alg);
  } catch {
    const expected = alg.startsWith('RS') ? 'an RSA' : alg === 'ES256' ? 'a P-256 EC' : 'a P-384 EC';
    throw new AppError('INVALID', `The private key cannot sign ${alg}: it must be ${expected} private key in PKCS#8 PEM form.`, { alg });
  }
}

/** Seconds an assertion lives: under the 5-minute maximum (Epic, SMART), leaving a minute for clock skew. */
const ASSERTION_LIFETIME_SECONDS = 240;

/**
 * RFC 7523 §3 / SMART Backend Services: a client assertion with iss = sub = client_id, aud = the
 * token endpoint, exp at most 5 minutes ahead, and a unique jti (a UUID: 36 characters, well under
 * Epic's 151).
 */
export async function signClientAssertion(input: {
  clientId: string;
  tokenEndpoint: string;
  privateKeyPkcs8Pem: string;
  alg: 'RS384' | 'ES384';
  kid: string;
}): Promise<string> {
  const key = await importSigningKey(input.privateKeyPkcs8Pem, input.alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: input.alg, kid: input.kid, typ: 'JWT' })
    .setIssuer(input.clientId)
    .setSubject(input.clientId)
    .setAudience(input.tokenEndpoint)
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_LIFETIME_SECONDS)
    .setJti(randomUUID())
    .sign(key);
}

export type TokenEndpointAuth =
  | { method: 'client_secret_basic' | 'client_secret_post'; secret: string }
  | { method: 'private_key_jwt'; privateKeyPkcs8Pem: string; alg: 'RS384' | 'ES384'; kid: string };

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded before they are joined and base64-encoded. */
function basicCredentials(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/**
 * RFC 6749 §4.4: a client_credentials token request, used to prove that a registration works.
 * Authenticates with client_secret_basic, client_secret_post or private_key_jwt (RFC 7523 §2.2).
 */
export async function requestClientCredentialsToken(input: {
  tokenEndpoint: string;
  clientId: string;
  auth: TokenEndpointAuth;
  scope?: string;
  fetchInit?: RegistrationFetchInit;
}): Promise<{ accessToken: string; expiresIn: number | null; scope: string | null }> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (input.scope) form.set('scope', input.scope);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const redactor = new Redactor();

  switch (input.auth.method) {
    case 'client_secret_basic':
      headers.authorization = basicCredentials(input.clientId, input.auth.secret);
      redactor.add(input.auth.secret);
      // The header as sent: its base64 carries the secret too.
      redactor.add(headers.authorization.slice('Basic '.length));
      break;
    case 'client_secret_post':
      form.set('client_id', input.clientId);
      form.set('client_secret', input.auth.secret);
      redactor.add(input.auth.secret);
      break;
    case 'private_key_jwt': {
      const assertion = await signClientAssertion({ clientId: input.clientId, tokenEndpoint: input.tokenEndpoint, ...input.auth });
      form.set('client_id', input.clientId);
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', assertion);
      redactor.add(assertion);
      break;
    }
  }

  let res: SafeResponse;
  try {
    res = await safeFetch(input.tokenEndpoint, { ...input.fetchInit, method: 'POST', headers, body: form.toString() });
  } catch (error) {
    throw transportError(error, 'token');
  }
  if (res.status < 200 || res.status >= 300) throw httpError('token', input.tokenEndpoint, res, redactor, { sentToken: false });

  const body = parseJsonSafely(res.text());
  if (!isRecord(body) || typeof body.access_token !== 'string' || body.access_token === '') {
    throw unusableSuccessError('token', input.tokenEndpoint, res.status, 'the body is not a JSON object with an access_token');
  }
  const expiresIn =
    typeof body.expires_in === 'number' && Number.isFinite(body.expires_in)
      ? body.expires_in
      : typeof body.expires_in === 'string' && /^\d+$/.test(body.expires_in)
        ? Number(body.expires_in)
        : null;
  return { accessToken: body.access_token, expiresIn, scope: typeof body.scope === 'string' ? body.scope : null };
}
