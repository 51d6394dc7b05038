import { describe, expect, it } from 'vitest';
import { compareMetadataRecords, sameMetadataValue } from './drift';

describe('metadata drift comparison', () => {
  it.each([
    ['scope', 'openid launch', 'launch  openid', true],
    ['scope', 'openid launch', 'openid', false],
    ['redirect_uris', ['https://a.example/cb', 'https://b.example/cb'], ['https://b.example/cb', 'https://a.example/cb'], true],
    // Exact strings: a trailing slash or host case is a real difference (RFC 9700 exact matching).
    ['redirect_uris', ['https://a.example/cb'], ['https://a.example/cb/'], false],
    ['redirect_uris', ['https://a.example/cb'], ['https://A.example/cb'], false],
    ['grant_types', ['authorization_code', 'refresh_token'], ['refresh_token', 'authorization_code'], true],
    ['jwks', { keys: [{ kty: 'EC', kid: '1' }] }, { keys: [{ kid: '1', kty: 'EC' }] }, true],
    ['client_name', 'App', 'App ', false],
    ['client_secret_expires_at', 0, undefined, false],
    ['logo_uri', undefined, null, true],
  ])('%s: %j vs %j → same: %s', (field, a, b, same) => {
    expect(sameMetadataValue(field, a, b)).toBe(same);
  });

  it('compares over the union of fields, sorted, with values as JSON text and absent as null', () => {
    expect(compareMetadataRecords({ b: 1, a: 'x' }, { a: 'x', c: [1] })).toEqual([
      { field: 'a', left: '"x"', right: '"x"', differs: false },
      { field: 'b', left: '1', right: null, differs: true },
      { field: 'c', left: null, right: '[1]', differs: true },
    ]);
  });
});
