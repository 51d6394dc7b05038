import http from 'node:http';
import type { AddressInfo } from 'node:net';

import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '@/lib/errors';
import { parseAllowlistEntry } from '@/lib/oauth/allowlist';
import { safeCustomFetch } from '@/lib/oauth/safe-fetch';

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

describe('safeCustomFetch as the customFetch of oauth4webapi', () => {
  let server: http.Server;
  let issuer: URL;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url === '/.well-known/openid-configuration') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              issuer: issuer.href.replace(/\/$/, ''),
              authorization_endpoint: `${issuer.origin}/authorize`,
              token_endpoint: `${issuer.origin}/token`,
              registration_endpoint: `${issuer.origin}/register`,
              jwks_uri: `${issuer.origin}/jwks`,
            }),
          );
        } else if (req.url === '/moved/.well-known/openid-configuration') {
          res.writeHead(301, { location: 'https://elsewhere.example/.well-known/openid-configuration' });
          res.end();
        } else if (req.url === '/register') {
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ client_id: 'c1', received: JSON.parse(Buffer.concat(chunks).toString()) as unknown }));
        } else if (req.url === '/empty') {
          res.writeHead(204);
          res.end();
        } else {
          res.writeHead(404);
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    issuer = new URL(`http://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const customFetch = () =>
    safeCustomFetch({ policy: { allowlist: [parseAllowlistEntry(`http://127.0.0.1:${issuer.port}`)] } });

  it('lets discoveryRequest + processDiscoveryResponse read a discovery document', async () => {
    const response = await oauth.discoveryRequest(issuer, {
      [oauth.customFetch]: customFetch(),
      [oauth.allowInsecureRequests]: true,
    });
    expect(response).toBeInstanceOf(Response);
    expect(response.url).toBe(`${issuer.origin}/.well-known/openid-configuration`);
    const as = await oauth.processDiscoveryResponse(issuer, response);
    expect(as.token_endpoint).toBe(`${issuer.origin}/token`);
    expect(as.registration_endpoint).toBe(`${issuer.origin}/register`);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(seen.at(-1)?.headers.accept).toBe('application/json');
  });

  it('rejects a redirect with UNEXPECTED_REDIRECT instead of following it', async () => {
    const moved = new URL(`${issuer.origin}/moved`);
    const error = await oauth
      .discoveryRequest(moved, { [oauth.customFetch]: customFetch(), [oauth.allowInsecureRequests]: true })
      .catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('UNEXPECTED_REDIRECT');
    expect(isAppError(error) && error.details).toEqual({ status: 301, location: 'elsewhere.example' });
  });

  it('refuses a blocked address before oauth4webapi sees a response', async () => {
    const error = await oauth
      .discoveryRequest(new URL('https://169.254.169.254'), { [oauth.customFetch]: customFetch() })
      .catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('BLOCKED_ADDRESS');
  });

  it('passes method, Headers and a JSON body through, and returns the status', async () => {
    const response = await customFetch()(`${issuer.origin}/register`, {
      method: 'post',
      headers: new Headers({ 'content-type': 'application/json', authorization: 'Bearer iat' }),
      body: JSON.stringify({ redirect_uris: ['https://app.example/cb'] }),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ client_id: 'c1', received: { redirect_uris: ['https://app.example/cb'] } });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/register' });
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer iat');
  });

  it('sends URLSearchParams as a form body', async () => {
    await customFetch()(`${issuer.origin}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
    expect(seen.at(-1)?.body).toBe('grant_type=client_credentials');
    expect(seen.at(-1)?.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  });

  it('builds a body-less Response for 204', async () => {
    const response = await customFetch()(`${issuer.origin}/empty`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('refuses methods outside the supported set', async () => {
    const error = await customFetch()(`${issuer.origin}/x`, { method: 'TRACE' }).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('INVALID');
  });
});
