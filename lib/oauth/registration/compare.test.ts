import { describe, expect, it } from 'vitest';
import { compareMetadata } from './response';

const fields = (requested: Record<string, unknown>, registered: Record<string, unknown>) => compareMetadata(requested, registered).map((w) => w.field);

describe('compareMetadata', () => {
  it('finds nothing when the server kept every value (key order, set order of unordered fields)', () => {
    const requested = {
      client_name: 'App',
      redirect_uris: ['https://a.example/cb', 'https://b.example/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
      jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'x', y: 'y' }] },
      default_max_age: 3600,
      require_auth_time: true,
    };
    const registered = {
      require_auth_time: true,
      default_max_age: 3600,
      jwks: { keys: [{ y: 'y', x: 'x', crv: 'P-384', kty: 'EC' }] },
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['refresh_token', 'authorization_code'],
      redirect_uris: ['https://b.example/cb', 'https://a.example/cb'],
      client_name: 'App',
      client_id: 'c1',
    };
    expect(compareMetadata(requested, registered)).toEqual([]);
  });

  it('flags each changed, dropped or retyped value', () => {
    const requested = {
      client_name: 'App',
      redirect_uris: ['https://a.example/cb', 'https://b.example/cb'],
      grant_types: ['authorization_code'],
      default_max_age: 3600,
      jwks: { keys: [{ kty: 'EC', x: 'x' }] },
      logo_uri: 'https://a.example/logo.png',
      contacts: ['ops@a.example', 'ops@a.example'],
    };
    const registered = {
      client_name: 'App ',
      redirect_uris: ['https://a.example/cb'],
      grant_types: ['authorization_code', 'client_credentials'],
      default_max_age: '3600',
      jwks: { keys: [{ kty: 'EC', x: 'other' }] },
      contacts: ['ops@a.example', 'ops@b.example'],
    };
    expect(fields(requested, registered).sort()).toEqual(['client_name', 'contacts', 'default_max_age', 'grant_types', 'jwks', 'logo_uri', 'redirect_uris']);
  });

  it('compares the members of ordered arrays in order, and unordered ones with objects as sets', () => {
    expect(fields({ request_object_signing_algs: ['ES384', 'RS384'] }, { request_object_signing_algs: ['RS384', 'ES384'] })).toEqual(['request_object_signing_algs']);
    expect(fields({ request_uris: [{ a: 1 }, 'x'] }, { request_uris: ['x', { a: 1 }] })).toEqual([]);
    expect(fields({ request_uris: [{ a: 1 }, 'x'] }, { request_uris: ['x', { a: 2 }] })).toEqual(['request_uris']);
  });
});
