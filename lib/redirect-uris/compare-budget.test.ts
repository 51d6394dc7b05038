import { describe, expect, it } from 'vitest';

import { compareRedirectUri, createDiffBudget, DIFF_BUDGET_CELLS, findClosestRegisteredUri, type HighlightSegment } from '@/lib/redirect-uris';
import recorded from './compare.ordinary-cases.json';
import { measureDistance } from './text-diff';

// The comparator's inputs come from whoever asks for a diagnosis; its character-level work is
// counted in DP cells (`DiffBudget.used`), so these tests bound work, not time.

const rebuild = (segments: HighlightSegment[], side: 'presented' | 'registered') =>
  segments
    .filter((s) => s.kind === 'same' || s.kind === `${side}-only`)
    .map((s) => s.text)
    .join('');

/**
 * A URI of `length` characters whose path and query (`part` characters each) differ from the other
 * side's at both ends, and which every normalisation (dot segments, double encoding, escape case,
 * percent-decoding, trailing slash, letter case) changes, so that each explanation step needs a
 * full-size edit distance. `salt` shifts the pattern and is written into the query, so that no two
 * registered URIs are equal.
 */
function crafted(length: number, side: 'presented' | 'registered', salt = 0, part?: number): string {
  const host = 'http://a.example';
  const size = part ?? Math.floor((length - host.length - 2) / 2);
  const fill = (units: readonly string[], head: string, tail: string) => {
    let s = head;
    for (let i = salt; s.length + tail.length < size; i++) s += units[i % units.length];
    return s.slice(0, size - tail.length) + tail;
  };
  const presented = side === 'presented';
  const path = fill(presented ? ['/./', '%252F', '%2f', '%41', 'Ab'] : ['/', '%2F', '%2F', 'a', 'aB'], presented ? '/X' : '/y', presented ? 'Q/' : 'r');
  const query = fill(presented ? ['%252F', '%2f', '%41', 'x=1&'] : ['%2F', '%2F', 'A', 'x=2&'], presented ? 'Z' : `w${salt}`, presented ? 'K' : 'j');
  const uri = `${host}${path}?${query}`;
  return uri.length >= length ? uri.slice(0, length) : `${uri}#${'f'.repeat(length - uri.length - 1)}`;
}

describe('the comparator’s work is bounded (a long crafted URI cannot block the server)', () => {
  it('the worst case at the API limits (50 registered URIs of 2,048 characters) spends at most DIFF_BUDGET_CELLS', () => {
    const presented = crafted(2048, 'presented');
    const registered = Array.from({ length: 50 }, (_, i) => crafted(2048, 'registered', i));
    expect(new Set(registered).size).toBe(50);

    // Without a limit the same request needs many times the budget (before the budget it was ~785 million cells).
    const unlimited = createDiffBudget(Number.POSITIVE_INFINITY);
    findClosestRegisteredUri(presented, registered, { budget: unlimited });
    expect(unlimited.used).toBeGreaterThan(5 * DIFF_BUDGET_CELLS);

    const budget = createDiffBudget();
    const result = findClosestRegisteredUri(presented, registered, { budget });
    expect(budget.used).toBeLessThanOrEqual(DIFF_BUDGET_CELLS);
    expect(budget.refused).toBeGreaterThan(0);

    // A partial result, clearly labelled, and still a correct one as far as it goes.
    expect(result.match).toBe(false);
    expect(result.limited).toBe(true);
    expect(registered).toContain(result.candidate);
    expect(rebuild(result.highlight, 'presented')).toBe(presented);
    expect(rebuild(result.highlight, 'registered')).toBe(result.candidate);
    expect(result.findings.at(-1)).toEqual({ code: 'PATH', message: expect.stringMatching(/^The URIs differ from character 18 on; they are too long to explain character by character/) });
    expect(result.perCandidate.map((c) => c.uri)).toEqual(registered);
    for (const c of result.perCandidate) {
      expect(c.match).toBe(false);
      expect(c.distance).toBeGreaterThan(0);
    }
  });

  it.each([
    ['200 URIs of 8,000 characters (the API’s former limits), paths and queries of 1,990', 8000, 200, 1990],
    ['one pasted URI of 32,000 characters', 32_000, 1, 1990],
    ['one pair of 2,048 characters', 2048, 1, undefined],
  ])('stays within the budget whatever the input size: %s', (_name, length, count, part) => {
    const budget = createDiffBudget();
    const registered = Array.from({ length: count }, (_, i) => crafted(length, 'registered', i, part));
    const result = findClosestRegisteredUri(crafted(length, 'presented', 0, part), registered, { budget });
    expect(budget.used).toBeLessThanOrEqual(DIFF_BUDGET_CELLS);
    expect(result.match).toBe(false);
    expect(result.perCandidate).toHaveLength(count);
  });

  it('compareRedirectUri alone stays within its budget on the crafted pair', () => {
    const budget = createDiffBudget();
    const result = compareRedirectUri(crafted(8000, 'presented', 0, 1990), crafted(8000, 'registered', 0, 1990), { budget });
    expect(budget.used).toBeLessThanOrEqual(DIFF_BUDGET_CELLS);
    expect(result).toMatchObject({ match: false, limited: true });
  });

  it('a budget passed in is shared: two calls together spend at most its limit', () => {
    const budget = createDiffBudget(1_000_000);
    const presented = crafted(2048, 'presented');
    findClosestRegisteredUri(presented, [crafted(2048, 'registered', 1)], { budget });
    findClosestRegisteredUri(presented, [crafted(2048, 'registered', 2)], { budget });
    expect(budget.used).toBeGreaterThan(0);
    expect(budget.used).toBeLessThanOrEqual(1_000_000);
  });

  it('measures each distinct registered URI once: duplicates cost nothing more', () => {
    const presented = 'https://app.example.com/SMART/Callback/?b=2&a=1';
    const uris = ['https://app.example.com/smart/callback?a=1&b=2', 'https://portal.example.com/launch'];
    const once = createDiffBudget();
    const single = findClosestRegisteredUri(presented, uris, { budget: once });
    const thrice = createDiffBudget();
    const repeated = findClosestRegisteredUri(presented, [...uris, ...uris, ...uris], { budget: thrice });
    expect(thrice.used).toBe(once.used);
    expect(repeated.findings).toEqual(single.findings);
    expect(repeated.perCandidate.map((c) => c.distance)).toEqual([...single.perCandidate, ...single.perCandidate, ...single.perCandidate].map((c) => c.distance));
  });
});

describe('the verdict never depends on the budget (it is a string comparison)', () => {
  const nothing = () => createDiffBudget(0);

  it('an exact match is a match with no cells to spend, among long crafted candidates too', () => {
    const presented = crafted(2048, 'presented');
    const registered = [...Array.from({ length: 49 }, (_, i) => crafted(2048, 'registered', i)), presented];
    const result = findClosestRegisteredUri(presented, registered, { budget: nothing() });
    expect(result).toMatchObject({ match: true, candidate: presented, findings: [] });
    expect(result.limited).toBeUndefined();
    expect(compareRedirectUri(presented, presented, { budget: nothing() })).toEqual({ match: true, findings: [], highlight: [{ text: presented, kind: 'same' }], distance: 0 });
  });

  it('a loopback-port match is a match with no cells to spend', () => {
    const result = findClosestRegisteredUri('http://127.0.0.1:51004/cb', ['https://app.example.com/cb', 'http://127.0.0.1/cb'], { budget: nothing() });
    expect(result).toMatchObject({ match: true, candidate: 'http://127.0.0.1/cb', findings: [{ code: 'LOOPBACK_PORT_ALLOWED' }] });
  });

  it('a mismatch stays a mismatch; what needed cells is labelled as partial', () => {
    const result = compareRedirectUri('https://app.example.com/SMART/callback', 'https://app.example.com/smart/callback', { budget: nothing() });
    expect(result.match).toBe(false);
    expect(result.findings.map((f) => f.code)).toEqual(['PATH_CASE', 'PATH']);
    expect(result.findings[1]?.message).toMatch(/^The URIs differ from character 25 on; they are too long to explain character by character/);
    expect(result.limited).toBe(true);
    expect(rebuild(result.highlight, 'presented')).toBe('https://app.example.com/SMART/callback');
  });

  it('differences found without any DP are not labelled (a trailing slash needs no cells)', () => {
    const budget = nothing();
    const result = compareRedirectUri('https://app.example.com/cb/', 'https://app.example.com/cb', { budget });
    expect(result).toEqual(compareRedirectUri('https://app.example.com/cb/', 'https://app.example.com/cb'));
    expect(result.limited).toBeUndefined();
    expect(budget.used).toBe(0);
  });
});

describe('ordinary diagnoses explain exactly as before the budget', () => {
  // Recorded from the comparator at 177dde4 (before the budget): 100 generated cases of URIs up to
  // ~250 characters and 1–6 registered URIs (case, slash, port, encoding, dot segment, query,
  // whitespace, scheme, host and character edits); invalid ports left out (their verdict changed).
  // A tab inside a URI (not at its ends) is now named as an invisible control character instead of
  // being quoted inside a PATH message ("registered '/launch\t'"): in those cases only the findings
  // changed, and they are checked below.
  const tabInside = (uri: string) => /\S\t+\S/.test(uri);
  const renamed = new Set([11, 54]);
  it.each(recorded.cases.map((c, i) => [i, c] as const))('case %i', (i, c) => {
    expect(tabInside(c.presented) || tabInside(c.registered[0] ?? '') || tabInside(c.closest.candidate ?? '')).toBe(renamed.has(i));
    const closest = findClosestRegisteredUri(c.presented, c.registered);
    const first = compareRedirectUri(c.presented, c.registered[0] ?? '');
    if (!renamed.has(i)) {
      expect(closest).toEqual(c.closest);
      expect(first).toEqual(c.first);
      return;
    }
    expect({ ...closest, findings: c.closest.findings }).toEqual(c.closest);
    expect({ ...first, findings: c.first.findings }).toEqual(c.first);
    for (const r of [closest, first]) {
      if (r.match) continue;
      expect(r.findings.map((f) => f.code)).toContain('INVISIBLE_CHARACTER');
      expect(r.findings.filter((f) => f.code === 'PATH')).toEqual([]);
    }
  });

  it('repeated and renamed query parameters are paired as before', () => {
    const result = compareRedirectUri('https://a.example/cb?a=1&a=1&b=2&a=3&d', 'https://a.example/cb?a=1&b=1&a=2&c&a=1');
    expect(result.findings).toEqual([
      { code: 'QUERY', message: "A query parameter differs: 'b' is 'b=2' presented but 'b=1' registered; 'a' is 'a=3' presented but 'a=2' registered." },
      { code: 'QUERY', message: "The presented query lacks 'c', which the registered URI has." },
      { code: 'QUERY', message: "The presented query has 'd', which the registered URI does not." },
    ]);
  });
});

describe('measureDistance (Ukkonen band) equals the plain Levenshtein DP', () => {
  const reference = (x: string, y: string) => {
    const a = Array.from(x);
    const b = Array.from(y);
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length] ?? 0;
  };
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const word = (n: number) => Array.from({ length: Math.floor(random() * n) }, () => ['a', 'b', '/', '%', '😀'][Math.floor(random() * 5)]).join('');

  it('on 2,000 random pairs', () => {
    for (let t = 0; t < 2000; t++) {
      const x = word(40);
      const y = random() < 0.5 ? word(40) : x.replace(/a/g, () => (random() < 0.2 ? 'b' : 'a'));
      expect(measureDistance(x, y, createDiffBudget())).toEqual({ distance: reference(x, y), exact: true });
    }
  });

  it('costs a thin band for long strings that differ at both ends by a few characters', () => {
    const body = 'segment/'.repeat(250);
    const budget = createDiffBudget();
    expect(measureDistance(`X${body}Y`, `x${body}y`, budget)).toEqual({ distance: 2, exact: true });
    expect(budget.used).toBeLessThan(20 * 2002); // the whole table would be 2,002 × 2,002 cells
  });
});
