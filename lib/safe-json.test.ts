import { describe, expect, it } from 'vitest';
import { copyWithoutUnsafeKeys, MAX_JSON_DEPTH, parseJsonWithoutUnsafeKeys } from './safe-json';

describe('parseJsonWithoutUnsafeKeys', () => {
  it('parses ordinary JSON exactly as JSON.parse does', () => {
    const text = JSON.stringify({ client_id: 'abc', redirect_uris: ['https://app.example/cb'], n: 1.5, ok: true, none: null, nested: { a: [1, { b: 'c' }] } });
    expect(parseJsonWithoutUnsafeKeys(text)).toEqual(JSON.parse(text));
  });

  it.each([
    ['__proto__', '{"client_id":"x","__proto__":{"polluted":true}}'],
    ['__proto__ spelt with \\u escapes', '{"client_id":"x","\\u005f\\u005fproto\\u005f\\u005f":{"polluted":true}}'],
    ['constructor', '{"client_id":"x","constructor":{"prototype":{"polluted":true}}}'],
    ['nested prototype', '{"client_id":"x","meta":{"prototype":{"polluted":true}}}'],
  ])('drops %s keys, so merging the result pollutes nothing', (_, text) => {
    const parsed = parseJsonWithoutUnsafeKeys(text) as Record<string, unknown>;
    expect(parsed.client_id).toBe('x');
    expect(Object.keys(parsed)).not.toContain('__proto__');
    expect(Object.keys(parsed)).not.toContain('constructor');
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    const merged = Object.assign({}, parsed) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(merged.polluted).toBeUndefined();
    if ('meta' in parsed) expect(parsed.meta).toEqual({});
  });

  it('keeps the words as values: only keys are dropped', () => {
    expect(parseJsonWithoutUnsafeKeys('{"client_name":"constructor of prototypes","x":"__proto__"}')).toEqual({ client_name: 'constructor of prototypes', x: '__proto__' });
  });

  it('throws on invalid JSON, with or without a suspicious word', () => {
    expect(() => parseJsonWithoutUnsafeKeys('{"a":')).toThrow(SyntaxError);
    expect(() => parseJsonWithoutUnsafeKeys('{"constructor":')).toThrow(SyntaxError);
  });
});

describe('copyWithoutUnsafeKeys', () => {
  it('deep-copies a value without the unsafe own keys JSON.parse left in it', () => {
    const decoded = JSON.parse('{"iss":"a","__proto__":{"polluted":true},"nested":{"constructor":1,"k":2}}') as Record<string, unknown>;
    expect(Object.keys(decoded)).toContain('__proto__');
    const copy = copyWithoutUnsafeKeys(decoded) as Record<string, unknown>;
    expect(copy).toEqual({ iss: 'a', nested: { k: 2 } });
    expect(Object.keys(copy)).not.toContain('__proto__');
  });
});

describe('nesting', () => {
  it('refuses a document nested deeper than it could ever be stored (JSON.stringify throws on it), as a SyntaxError', () => {
    const deep = `{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(() => JSON.stringify(JSON.parse(deep))).toThrow(RangeError); // why it is refused
    expect(() => parseJsonWithoutUnsafeKeys(deep)).toThrow(SyntaxError);
    const justOver = `${'['.repeat(MAX_JSON_DEPTH + 1)}${' '.repeat(5000)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
    expect(() => parseJsonWithoutUnsafeKeys(justOver)).toThrow(/nested more than 256 levels/);
  });

  it('accepts deep enough documents, and brackets inside strings do not count', () => {
    const atLimit = `${'['.repeat(MAX_JSON_DEPTH)}"${'['.repeat(5000)}\\"["${']'.repeat(MAX_JSON_DEPTH)}`;
    expect(() => parseJsonWithoutUnsafeKeys(atLimit)).not.toThrow();
  });
});
