import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index';
import { getJson, oauthUris } from './test-support';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ tenants: 5, log: () => undefined });
});
afterAll(async () => {
  await sandbox?.stop();
});

describe('many issuers', () => {
  it('serves N issuers whose discovery documents name exactly that issuer', async () => {
    const base = sandbox.tenantsBase;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 5; i += 1) {
      const issuer = `${base}/t/${i}`;
      const oidc = await getJson(`${issuer}/.well-known/openid-configuration`);
      expect(oidc.status).toBe(200);
      expect(oidc.body.issuer).toBe(issuer);
      expect(oidc.body.token_endpoint).toBe(`${issuer}/token`);

      const rfc8414 = await getJson(`${base}/.well-known/oauth-authorization-server/t/${i}`);
      expect(rfc8414.body.issuer).toBe(issuer);

      const smart = await getJson(`${issuer}/fhir/.well-known/smart-configuration`);
      expect(smart.status).toBe(200);
      expect(smart.body.issuer).toBe(issuer);
      expect(smart.body.code_challenge_methods_supported).toEqual(['S256']);

      const metadata = await getJson(`${issuer}/fhir/metadata`);
      expect(metadata.status).toBe(200);
      expect(metadata.headers.get('content-type')).toContain('application/fhir+json');
      expect(oauthUris(metadata.body).token).toBe(`${issuer}/token`);
    }
  });

  it('answers 404 past the last tenant and for unknown paths', async () => {
    const base = sandbox.tenantsBase;
    expect((await getJson(`${base}/t/5/.well-known/openid-configuration`)).status).toBe(404);
    expect((await getJson(`${base}/t/01/.well-known/openid-configuration`)).status).toBe(404);
    expect((await getJson(`${base}/t/0/nope`)).status).toBe(404);
  });

  it('lists its issuers', async () => {
    const { body } = await getJson(`${sandbox.tenantsBase}/tenants.json`);
    expect(body.issuers).toEqual([0, 1, 2, 3, 4].map((i) => `${sandbox.tenantsBase}/t/${i}`));
  });

  it('starts no tenants server by default', async () => {
    const plain = await startSandbox({ log: () => undefined });
    try {
      expect(plain.tenantsBase).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });
});
