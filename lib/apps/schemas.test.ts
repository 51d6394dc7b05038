import { describe, expect, it } from 'vitest';
import { appProfileSchema } from './schemas';

const profile = (production: Record<string, unknown>) => ({ name: 'App', softwareId: 'com.example.app', environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic', ...production } } });
const issuesOf = (input: unknown) => {
  const parsed = appProfileSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

describe('app profile redirect URIs', () => {
  it('refuses a URI no server may register, at its environment’s field, naming the URI and the fix', () => {
    expect(issuesOf(profile({ redirectUris: 'https://app.example.com/cb\nhttps://app.example.com/cb#done' }))).toEqual([
      { path: 'environments.production.redirectUris', message: expect.stringMatching(/^"https:\/\/app\.example\.com\/cb#done": .*fragment.*Remove everything from '#'/) },
    ]);
    expect(issuesOf(profile({ redirectUris: 'http://app.example.com/cb' }))[0]?.message).toMatch(/uses http/);
    expect(issuesOf(profile({ redirectUris: 'http://127.0.0.1:7000/cb', applicationType: 'web' }))[0]?.message).toMatch(/only for native apps/);
    expect(issuesOf(profile({ redirectUris: 'myapp:/cb' }))[0]?.message).toMatch(/reverse domain/);
  });

  it('accepts what RFC 8252 allows a native app and keeps warnings (a duplicate) out of the way', () => {
    expect(issuesOf(profile({ redirectUris: 'http://127.0.0.1:7000/cb\ncom.example.app:/cb', applicationType: 'native' }))).toEqual([]);
    expect(issuesOf(profile({ redirectUris: 'https://app.example.com/cb\nhttps://app.example.com/cb' }))).toEqual([]);
  });
});

describe('app profile grant types', () => {
  const grantsOf = (grantTypes: unknown) => appProfileSchema.parse(profile(grantTypes === undefined ? {} : { grantTypes })).environments.production!.grantTypes;

  it('defaults to authorization_code only when left out (RFC 7591 §2), and keeps any grant type given, once each', () => {
    expect(grantsOf(undefined)).toEqual(['authorization_code']);
    expect(grantsOf(['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange', ' client_credentials '])).toEqual(['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange']);
  });

  it('refuses an explicitly empty list at the grant types field instead of saving a grant nobody chose', () => {
    for (const empty of [[], '', ['  ']]) {
      expect(issuesOf(profile({ grantTypes: empty }))).toEqual([{ path: 'environments.production.grantTypes', message: expect.stringMatching(/Choose at least one grant type/) }]);
    }
  });
});
