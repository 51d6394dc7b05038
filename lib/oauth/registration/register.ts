import 'server-only';

import { AppError } from '@/lib/errors';
import { safeFetch, type SafeResponse } from '@/lib/oauth/safe-fetch';

import { Redactor, httpError, transportError } from './errors';
import { PRIVATE_JWK_MEMBERS, isRecord } from './fields';
import { readClientInformation } from './response';
import type { ClientMetadata, RegistrationFetchInit, RegistrationResponse } from './types';

export const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' } as const;

/** Refuses metadata that must never be sent: private key material in jwks, or jwks together with jwks_uri. */
export function assertSendableMetadata(metadata: ClientMetadata): void {
  if (metadata.jwks !== undefined && metadata.jwks_uri !== undefined) {
    throw new AppError('INVALID', 'Client metadata may carry jwks or jwks_uri, not both (RFC 7591 §2).', { field: 'jwks' });
  }
  const jwks = metadata.jwks;
  if (jwks === undefined) return;
  const keys = isRecord(jwks) ? jwks.keys : undefined;
  if (!Array.isArray(keys)) throw new AppError('INVALID', 'jwks must be an object with a "keys" array.', { field: 'jwks' });
  keys.forEach((key: unknown, index) => {
    const found = isRecord(key) ? PRIVATE_JWK_MEMBERS.filter((m) => m in key) : [];
    if (found.length > 0) {
      // Name the members only: their values are the secret.
      throw new AppError('INVALID', `jwks.keys[${index}] contains private key material (${found.join(', ')}); publish public keys only.`, {
        field: 'jwks',
        members: found,
      });
    }
  });
}

/** RFC 7591 §3.1: POST the metadata as JSON, with the initial access token as a Bearer token when there is one. */
export async function registerClient(input: {
  registrationEndpoint: string;
  metadata: ClientMetadata;
  initialAccessToken?: string | null;
  fetchInit?: RegistrationFetchInit;
}): Promise<RegistrationResponse> {
  assertSendableMetadata(input.metadata);
  const token = input.initialAccessToken?.trim() || null;
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (token) headers.authorization = `Bearer ${token}`;

  let res: SafeResponse;
  try {
    res = await safeFetch(input.registrationEndpoint, {
      ...input.fetchInit,
      method: 'POST',
      headers,
      body: JSON.stringify(input.metadata),
    });
  } catch (error) {
    throw transportError(error, 'register');
  }
  if (res.status >= 200 && res.status < 300) {
    return readClientInformation({ op: 'register', endpoint: input.registrationEndpoint, status: res.status, text: res.text(), requested: input.metadata });
  }
  throw httpError('register', input.registrationEndpoint, res, new Redactor([token]), { sentToken: token !== null });
}
