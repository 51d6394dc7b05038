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

/**
 * Nesting a document may have. JSON.parse takes far deeper documents (100,000 levels), which then
 * cannot be written back (JSON.stringify, a jsonb column: RangeError): refused as they are read.
 * A text shorter than DEPTH_SCAN_FROM characters cannot reach a depth that breaks anything, so
 * the usual answers (a few kilobytes) are not scanned.
 */
export const MAX_JSON_DEPTH = 256;
const DEPTH_SCAN_FROM = 4096;

/** The text nests arrays and objects deeper than `limit` (strings skipped; stops at the first excess). */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** JSON.parse without unsafe keys. Throws JSON.parse's SyntaxError (whose message may quote the text), or one for a document nested deeper than MAX_JSON_DEPTH. */
export function parseJsonWithoutUnsafeKeys(text: string): unknown {
  if (text.length >= DEPTH_SCAN_FROM && nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new SyntaxError(`JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
  if (!MAY_HOLD_UNSAFE_KEY.test(text)) return JSON.parse(text) as unknown;
  return JSON.parse(text, (key, value: unknown) => (UNSAFE_KEYS.has(key) ? undefined : value)) as unknown;
}

/** A deep copy of a JSON value without unsafe keys. */
export function copyWithoutUnsafeKeys(value: unknown): unknown {
  return parseJsonWithoutUnsafeKeys(JSON.stringify(value));
}
