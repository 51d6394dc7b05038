import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestClientCredentialsToken } from './index';
import { captureError, listen, loopbackPolicy, readRequestBody, type Loopback } from './test-support';

/**
 * A token endpoint that refuses every request and quotes it back — the Authorization header and the
 * form body as they arrived — the way some gateways and debug pages do. The secret must not survive
 * in Registrar's error in any of the forms it was sent in.
 */
let echo: Loopback;

beforeAll(async () => {
  echo = await listen((req, res) => {
    void readRequestBody(req).then((body) => {
      const quoted = `authorization=${req.headers.authorization ?? ''} body=${body}`;
      // An RFC 6749 error whose description quotes the request (HTML error pages are not quoted at all).
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_request', error_description: `could not parse: ${quoted}` }));
    });
  });
});

afterAll(async () => {
  await echo.close();
});

// A base64 secret with the characters both encodings change, and a space.
const SECRET = 'Zm9v+YmFy/cXV4=w a';
const forms = {
  raw: SECRET,
  'URL-encoded': encodeURIComponent(SECRET),
  'form-encoded': new URLSearchParams({ v: SECRET }).toString().slice(2),
  'Basic base64': Buffer.from(`client-1:${new URLSearchParams({ v: SECRET }).toString().slice(2)}`).toString('base64'),
};

describe('a token endpoint that quotes the request back in its error', () => {
  for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
    it(`${method}: the secret appears in none of the forms it was sent in`, async () => {
      const error = await captureError(() =>
        requestClientCredentialsToken({ tokenEndpoint: `${echo.origin}/token`, clientId: 'client-1', auth: { method, secret: SECRET }, fetchInit: { policy: loopbackPolicy(echo.origin) } }),
      );
      // The echo reached the error (so the check below has something to look at).
      expect(error.serialized).toMatch(/authorization=|body=/);
      for (const [name, form] of Object.entries(forms)) expect(error.serialized, name).not.toContain(form);
    });
  }
});
