import 'server-only';

import { AppError } from '@/lib/errors';
import { safeFetch, type SafeResponse } from '@/lib/oauth/safe-fetch';

import { Redactor, httpError, transportError } from './errors';
import { SERVER_MANAGED_FIELDS } from './fields';
import { JSON_HEADERS, assertSendableMetadata } from './register';
import { readClientInformation, statementMetadata } from './response';
import type { ClientMetadata, RegistrationFetchInit, RegistrationResponse } from './types';

type ManagementInput = {
  /** Exactly as the server returned it (RFC 7592 §3: never built by the client). */
  registrationClientUri: string;
  registrationAccessToken: string;
  fetchInit?: RegistrationFetchInit;
};

function bearerHeaders(rat: string): Record<string, string> {
  const token = rat.trim();
  if (token === '') throw new AppError('INVALID', 'A registration access token is required for RFC 7592 management.');
  return { ...JSON_HEADERS, authorization: `Bearer ${token}` };
}

async function send(
  op: 'read' | 'update' | 'delete',
  input: ManagementInput,
  method: 'GET' | 'PUT' | 'DELETE',
  body?: string,
): Promise<SafeResponse> {
  const headers = bearerHeaders(input.registrationAccessToken);
  if (method !== 'PUT') delete headers['content-type'];
  try {
    return await safeFetch(input.registrationClientUri, { ...input.fetchInit, method, headers, ...(body !== undefined ? { body } : {}) });
  } catch (error) {
    throw transportError(error, op);
  }
}

/** RFC 7592 §2.1: GET the current registration. 401 = management access lost (bad RAT, or client deleted upstream). */
export async function readClientRegistration(input: ManagementInput): Promise<RegistrationResponse> {
  const res = await send('read', input, 'GET');
  if (res.status >= 200 && res.status < 300) {
    return readClientInformation({
      op: 'read',
      endpoint: input.registrationClientUri,
      status: res.status,
      text: res.text(),
      requested: null,
      current: { registrationAccessToken: input.registrationAccessToken, registrationClientUri: input.registrationClientUri },
    });
  }
  throw httpError('read', input.registrationClientUri, res, new Redactor([input.registrationAccessToken]), { sentToken: true });
}

/**
 * RFC 7592 §2.2: PUT replaces the whole registration, so the body is the last server response
 * with the changes applied, plus client_id; the server-managed fields (registration_access_token,
 * registration_client_uri, client_secret_expires_at, client_id_issued_at) are never sent, nor is
 * client_secret (optional, and the client MUST NOT choose its own). A change whose value is null
 * or undefined removes that field, which deletes it upstream.
 */
export function buildUpdateBody(lastServerMetadata: ClientMetadata, changes: ClientMetadata): ClientMetadata {
  const clientId = lastServerMetadata.client_id;
  if (typeof clientId !== 'string' || clientId.trim() === '') {
    throw new AppError('INVALID', 'The last server metadata has no client_id; read the registration first.');
  }
  for (const field of Object.keys(changes)) {
    if (SERVER_MANAGED_FIELDS.has(field)) {
      throw new AppError('INVALID', `${field} is managed by the server and cannot be changed (RFC 7592 §2.2).`, { field });
    }
    if (field === 'client_secret') {
      throw new AppError('INVALID', 'The client secret cannot be chosen by the client (RFC 7592 §2.2); the server issues it.', { field });
    }
    if (field === 'client_id' && changes.client_id !== clientId) {
      throw new AppError('INVALID', 'client_id cannot be changed (RFC 7592 §2.2).', { field });
    }
  }
  const body: ClientMetadata = {};
  for (const [field, value] of Object.entries({ ...lastServerMetadata, ...changes })) {
    if (SERVER_MANAGED_FIELDS.has(field) || field === 'client_secret') continue;
    if (value === undefined || value === null) continue;
    body[field] = value;
  }
  if (!('software_statement' in changes) && statementOverrides(body.software_statement, changes)) delete body.software_statement;
  body.client_id = clientId;
  return body;
}

/**
 * Whether the software statement the server echoed (RFC 7591 §3.2.1: returned unmodified) carries a
 * claim the change sets to another value. Its claims win over the plain members (§2.3), so sent
 * back it would make the server keep the old value — and the answer would look like the request.
 * Such a statement is left out of the PUT: the change goes as plain JSON, and an answer that keeps
 * the old value is then reported as a substitution.
 */
function statementOverrides(statement: unknown, changes: ClientMetadata): boolean {
  const claims = statementMetadata(statement);
  return claims !== null && Object.entries(changes).some(([field, value]) => field in claims && JSON.stringify(claims[field]) !== JSON.stringify(value ?? null));
}

/** RFC 7592 §2.2: PUT the full registration. The answer may carry a new RAT and/or secret: persist them first. */
export async function updateClientRegistration(
  input: ManagementInput & { lastServerMetadata: ClientMetadata; changes: ClientMetadata },
): Promise<RegistrationResponse> {
  const body = buildUpdateBody(input.lastServerMetadata, input.changes);
  assertSendableMetadata(body);
  const res = await send('update', input, 'PUT', JSON.stringify(body));
  if (res.status >= 200 && res.status < 300) {
    return readClientInformation({
      op: 'update',
      endpoint: input.registrationClientUri,
      status: res.status,
      text: res.text(),
      requested: body,
      current: { registrationAccessToken: input.registrationAccessToken, registrationClientUri: input.registrationClientUri },
    });
  }
  throw httpError('update', input.registrationClientUri, res, new Redactor([input.registrationAccessToken]), { sentToken: true });
}

/** RFC 7592 §2.3: DELETE → 204 deleted; 405 → the server does not support deletion; 401 → management access lost. */
export async function deleteClientRegistration(input: ManagementInput): Promise<{ deleted: true } | { deleted: false; reason: 'not_allowed' }> {
  const res = await send('delete', input, 'DELETE');
  if (res.status >= 200 && res.status < 300) return { deleted: true };
  if (res.status === 405) return { deleted: false, reason: 'not_allowed' };
  throw httpError('delete', input.registrationClientUri, res, new Redactor([input.registrationAccessToken]), { sentToken: true });
}
