import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index';
import { basicAuth, bearer, postForm, sendJson } from './test-support';

const FORBIDDEN_IN_PUT = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at'];
const TTL = 3600;

let sandbox: Sandbox;
const logs: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ log: (line) => logs.push(line), generalIssuesSecretOnUpdate: true, generalSecretTtlSeconds: TTL });
});
afterAll(async () => {
  await sandbox?.stop();
  expect(logs).toEqual([]);
});

async function tokenStatus(clientId: string, secret: string): Promise<number> {
  const res = await postForm(`${sandbox.general.origin}/token`, { grant_type: 'client_credentials', scope: 'system/*.rs' }, { authorization: basicAuth(clientId, secret) });
  return res.status;
}

describe('General Hospital issuing a new secret on update (RFC 7592 §2.2)', () => {
  it('answers a PUT with a new secret and a fresh expiry; the old secret stops working at once', async () => {
    const reg = await sendJson('POST', sandbox.general.registrationEndpoint, {
      client_name: 'Rotating client',
      redirect_uris: ['https://app.example.com/callback'],
      grant_types: ['authorization_code', 'client_credentials'],
      scope: 'system/*.rs',
      software_id: 'registrar',
    });
    expect(reg.status).toBe(201);
    const client = reg.body as Record<string, unknown> & { client_id: string; client_secret: string; registration_access_token: string; registration_client_uri: string };
    expect(await tokenStatus(client.client_id, client.client_secret)).toBe(200);

    const body = Object.fromEntries(Object.entries(client).filter(([k]) => !FORBIDDEN_IN_PUT.includes(k)));
    const before = Math.floor(Date.now() / 1000);
    const put = await sendJson('PUT', client.registration_client_uri, body, bearer(client.registration_access_token));
    expect(put.status).toBe(200);
    const newSecret = String(put.body.client_secret);
    expect(newSecret).not.toBe(client.client_secret);
    expect(newSecret.length).toBeGreaterThanOrEqual(32);
    expect(Number(put.body.client_secret_expires_at)).toBeGreaterThanOrEqual(before + TTL);
    expect(Number(put.body.client_secret_expires_at)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + TTL);
    expect(put.body.client_id_issued_at).toBe(client.client_id_issued_at);

    expect(await tokenStatus(client.client_id, client.client_secret)).toBe(401);
    expect(await tokenStatus(client.client_id, newSecret)).toBe(200);
    const read = await sendJson('GET', client.registration_client_uri, undefined, bearer(String(put.body.registration_access_token)));
    expect(read.body.client_secret).toBe(newSecret);
  });

  it('leaves public clients without a secret', async () => {
    const reg = await sendJson('POST', sandbox.general.registrationEndpoint, {
      client_name: 'Public client',
      redirect_uris: ['https://app.example.com/callback'],
      token_endpoint_auth_method: 'none',
      software_id: 'registrar',
    });
    expect(reg.status).toBe(201);
    const client = reg.body as Record<string, unknown> & { registration_access_token: string; registration_client_uri: string };
    const body = Object.fromEntries(Object.entries(client).filter(([k]) => !FORBIDDEN_IN_PUT.includes(k)));
    const put = await sendJson('PUT', client.registration_client_uri, body, bearer(client.registration_access_token));
    expect(put.status).toBe(200);
    expect(put.body.client_secret).toBeUndefined();
  });
});
