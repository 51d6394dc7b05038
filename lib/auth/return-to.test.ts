import { describe, expect, it } from 'vitest';
import { safeReturnPath } from './return-to';

describe('safeReturnPath', () => {
  it('keeps a path of this site with its query', () => {
    expect(safeReturnPath('/diagnose?mode=client&client_id=abc')).toBe('/diagnose?mode=client&client_id=abc');
    expect(safeReturnPath('/registrations/6d0c/rotations')).toBe('/registrations/6d0c/rotations');
  });

  it('refuses anything a browser could read as another site, and loops', () => {
    for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '/\\/evil.example', 'javascript:alert(1)', 'evil.example', '/ok\nLocation: x', '/signin', '/signin?callbackUrl=/x', '/api/auth/signout', '', null, undefined, `/${'a'.repeat(2001)}`]) {
      expect(safeReturnPath(bad), String(bad)).toBeNull();
    }
  });
});
