import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb } from '@/db/client';
import { insertApp, insertIssuer, insertUser } from '@/db/factories';
import type { AppProfile } from '@/db/schema';
import type { Sandbox } from '@/sandbox/index';
import { generalSandbox, registrationRow } from '@/lib/rotation/test-support';
import { buildRegistrationRequest } from './build-request';
import { previewRegistration } from './preview';
import { registerApp } from './register';
import { withEnv } from '@/test/support/env';

const issuerWith = (scopesSupported: string[]) =>
  ({ endpoints: {}, tokenEndpointAuthMethodsSupported: [], tokenEndpointAuthSigningAlgValuesSupported: [], scopesSupported, grantTypesSupported: [], fhirBaseUrl: null, capabilities: [] }) as never;

function profile(env: Record<string, unknown>): AppProfile {
  return {
    name: 'App',
    softwareId: 'com.example.app',
    contacts: [],
    environments: { production: { redirectUris: ['https://app.example.com/cb'], grantTypes: ['authorization_code'], responseTypes: ['code'], tokenEndpointAuthMethod: 'client_secret_basic', scope: '', keyAlgorithm: 'RS384', ...env } },
  } as never;
}

describe('buildRegistrationRequest', () => {
  it('keeps the scopes the issuer supports the SMART way (wildcard, v1 form of v2, narrowing) and removes only the others, saying so', () => {
    const built = buildRegistrationRequest({
      issuer: issuerWith(['openid', 'launch/patient', 'patient/*.rs']),
      profile: profile({ scope: 'openid launch/patient patient/Observation.rs patient/Observation.rs?category=laboratory patient/Observation.read user/Patient.rs' }),
      environment: 'production',
      jwksUri: null,
    });
    expect(built.metadata.scope).toBe('openid launch/patient patient/Observation.rs patient/Observation.rs?category=laboratory patient/Observation.read');
    expect(built.adaptations).toEqual([expect.objectContaining({ field: 'scope', from: 'user/Patient.rs', to: '(removed)' })]);
  });

  it('a backend-services client (client_credentials only) sends no redirect URIs and an empty response_types, shown as an adaptation', () => {
    const built = buildRegistrationRequest({ issuer: issuerWith([]), profile: profile({ redirectUris: [], grantTypes: ['client_credentials'], responseTypes: ['code'] }), environment: 'production', jwksUri: null });
    expect(built.metadata).not.toHaveProperty('redirect_uris');
    expect(built.metadata).toMatchObject({ grant_types: ['client_credentials'], response_types: [] });
    expect(built.adaptations).toEqual([expect.objectContaining({ field: 'response_types', from: ['code'], to: [] })]);
    // With the authorization code grant nothing changes.
    const web = buildRegistrationRequest({ issuer: issuerWith([]), profile: profile({}), environment: 'production', jwksUri: null });
    expect(web.metadata).toMatchObject({ redirect_uris: ['https://app.example.com/cb'], response_types: ['code'] });
    expect(web.adaptations).toEqual([]);
  });
});

describe('Epic mode', () => {
  it('sends exactly {software_id: the Epic client id, jwks}; without an Epic client id for the environment it refuses, naming the field, instead of sending the vendor’s software_id', () => {
    const keys = { keys: [{ kty: 'RSA', kid: 'k1', n: 'x', e: 'AQAB' }] };
    const built = buildRegistrationRequest({ issuer: issuerWith([]), profile: profile({ epicClientId: 'epic-app-123' }), environment: 'production', jwksUri: null, inlineJwks: keys, epicMode: true });
    expect(built.metadata).toEqual({ software_id: 'epic-app-123', jwks: keys });
    let error: unknown;
    try {
      buildRegistrationRequest({ issuer: issuerWith([]), profile: profile({}), environment: 'production', jwksUri: null, inlineJwks: keys, epicMode: true });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID', details: { field: 'epicClientId' }, message: expect.stringMatching(/needs the app's Epic client id as software_id/) });
  });
});

describe('registering a backend-services client at General Hospital (node-oidc-provider)', () => {
  let sandbox: Sandbox;
  let ops: Awaited<ReturnType<typeof insertUser>>;
  let issuerId: string;
  beforeAll(async () => {
    ({ sandbox, ops, issuerId } = await generalSandbox());
  });
  afterAll(async () => {
    await sandbox.stop();
    await closeDb();
  });

  it('is accepted: without redirect URIs and with no response types the server does not ask for one', async () => {
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['client_credentials'], redirectUris: [], scope: 'system/*.read' } } });
    const result = await registerApp(ops.actor, { issuerId, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
    const row = await registrationRow(result.registrationId);
    expect(row.registeredMetadata).toMatchObject({ grant_types: ['client_credentials'], response_types: [] });
  });
});

describe('the review screen shows how the key will travel, as Register sends it', () => {
  it('a hospital that cannot fetch Registrar’s JWKS (plain-http public URL, not on this machine): inline jwks in the preview, with the adaptation', async () => {
    const { issuerId: remote } = await insertIssuer({ registrationEndpoint: 'https://hospital.example.org/register', authMethods: ['private_key_jwt'] });
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'private_key_jwt', keyAlgorithm: 'ES384' } } });
    const ops = await insertUser({ role: 'ops' });
    await withEnv({ REGISTRAR_PUBLIC_URL: 'http://localhost:3000' }, async () => {
      const preview = await previewRegistration(ops.actor, { issuerId: remote, appId, environment: 'production' });
      expect(preview.request).not.toHaveProperty('jwks_uri');
      expect(preview.request).toHaveProperty('jwks');
      expect(preview.adaptations).toContainEqual(expect.objectContaining({ field: 'jwks', to: 'inline jwks' }));
    });
    await withEnv({ REGISTRAR_PUBLIC_URL: 'https://registrar.example.com' }, async () => {
      const preview = await previewRegistration(ops.actor, { issuerId: remote, appId, environment: 'production' });
      expect(preview.request).toMatchObject({ jwks_uri: `https://registrar.example.com/api/jwks/${appId}/production` });
    });
  });
});
