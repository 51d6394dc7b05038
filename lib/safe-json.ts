/**
 * JSON from outside (hospital answers, decoded JWTs) without the keys that a later merge
 * (Object.assign, a deep merge) could turn into prototype pollution: `__proto__`, `constructor`,
 * `prototype`. JSON.parse keeps "__proto__" as an own key, so they are dropped while parsing.
 */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A text that holds none of those words and no \u escape (which could spell them) cannot hold
 * such a key: it is parsed without the reviver, which costs more than the parse itself.
 */
const MAY_HOLD_UNSAFE_KEY = /__proto__|constructor|prototype|\\u/;

/** JSON.parse without unsafe keys. Throws JSON.parse's SyntaxError (whose message may quote the text). */
export function parseJsonWithoutUnsafeKeys(text: string): unknown {
  if (!MAY_HOLD_UNSAFE_KEY.test(text)) return JSON.parse(text) as unknown;
  return JSON.parse(text, (key, value: unknown) => (UNSAFE_KEYS.has(key) ? undefined : value)) as unknown;
}

/** A deep copy of a JSON value without unsafe keys. */
export function copyWithoutUnsafeKeys(value: unknown): unknown {
  return parseJsonWithoutUnsafeKeys(JSON.stringify(value));
}
