// Pure module (browser-safe): character-level diff and edit distance for URIs.
//
// Both are dynamic programming over (characters of one string) × (characters of the other), and the
// strings come from whoever asks for a diagnosis. Every DP therefore draws its cells from a
// `DiffBudget` first; when the budget cannot pay, the caller gets a cheaper result marked as not
// exact instead of the work being done. Exact-match verdicts never depend on this: they are string
// comparisons.

export type HighlightKind = 'same' | 'presented-only' | 'registered-only';
export type HighlightSegment = { text: string; kind: HighlightKind };

// No single DP pass is larger, whatever the budget: above it the highlight shows the differing
// stretch replaced wholesale (the LCS table holds 4 bytes a cell) and a distance is an upper bound.
const MAX_CELLS = 4_000_000;

/** DP cells one comparison or one search for the closest registered URI may spend by default. */
export const DIFF_BUDGET_CELLS = 20_000_000;

/** A count of DP cells that may still be spent; `used` is the counter tests and callers can read. */
export type DiffBudget = {
  readonly limit: number;
  /** cells spent */
  used: number;
  /** cells asked for and refused (the work the budget saved) */
  refused: number;
  /** a share of another budget: spending counts against both */
  readonly parent: DiffBudget | null;
};

export function createDiffBudget(limit: number = DIFF_BUDGET_CELLS): DiffBudget {
  return { limit, used: 0, refused: 0, parent: null };
}

/** A share of `parent` of at most `cap` cells; what it spends is spent from the parent too. */
export function shareOf(parent: DiffBudget, cap: number): DiffBudget {
  return { limit: Math.max(0, Math.min(cap, remainingCells(parent))), used: 0, refused: 0, parent };
}

export function remainingCells(budget: DiffBudget): number {
  let left = budget.limit - budget.used;
  for (let b = budget.parent; b !== null; b = b.parent) left = Math.min(left, b.limit - b.used);
  return Math.max(0, left);
}

/** Takes `cells` from the budget (and its parents), or refuses and takes nothing. */
export function spendCells(budget: DiffBudget, cells: number): boolean {
  const ok = cells <= remainingCells(budget);
  for (let b: DiffBudget | null = budget; b !== null; b = b.parent) {
    if (ok) b.used += cells;
    else b.refused += cells;
  }
  return ok;
}

function push(out: HighlightSegment[], text: string, kind: HighlightKind): void {
  if (text.length === 0) return;
  const last = out[out.length - 1];
  if (last !== undefined && last.kind === kind) last.text += text;
  else out.push({ text, kind });
}

/** The stretch where two strings differ, after their common prefix and suffix (by code point). */
export type DifferingStretch = {
  /** code points before the first difference */
  start: number;
  /** the differing middle of the first string, and of the second */
  a: string[];
  b: string[];
  /** |a| - |b| in absolute value: no edit script is shorter */
  lower: number;
  /** the longer middle: replacing it wholesale is an edit script of this length */
  upper: number;
};

export function differingStretch(x: string | string[], y: string | string[]): DifferingStretch {
  const a = typeof x === 'string' ? Array.from(x) : x;
  const b = typeof y === 'string' ? Array.from(y) : y;
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  return { start, a: midA, b: midB, lower: Math.abs(midA.length - midB.length), upper: Math.max(midA.length, midB.length) };
}

/** The cells `diffCharsWithin` spends on a stretch (0 when it shows it replaced wholesale unasked). */
export function highlightCells(s: DifferingStretch): number {
  const cells = (s.a.length + 1) * (s.b.length + 1);
  return s.a.length === 0 || s.b.length === 0 || cells > MAX_CELLS ? 0 : cells;
}

export type CharDiff = {
  segments: HighlightSegment[];
  /** false when the differing stretch was too long to diff and is shown replaced wholesale */
  exact: boolean;
  /** 0-based code point index of the first difference (the string length when equal) */
  start: number;
};

/**
 * Character diff (LCS) of the raw strings, by code point. Within a changed stretch the registered
 * characters come before the presented ones, so the highlight reads "registered → presented".
 * Without the cells for the LCS table the whole differing stretch is marked as changed.
 */
export function diffCharsWithin(presented: string, registered: string, budget: DiffBudget): CharDiff {
  const a = Array.from(registered);
  const s = differingStretch(a, Array.from(presented));
  const midA = s.a;
  const midB = s.b;
  const n = midA.length;
  const m = midB.length;

  const out: HighlightSegment[] = [];
  push(out, a.slice(0, s.start).join(''), 'same');
  let exact = true;
  const cells = highlightCells(s);
  if (cells === 0 || !spendCells(budget, cells)) {
    exact = n === 0 || m === 0;
    push(out, midA.join(''), 'registered-only');
    push(out, midB.join(''), 'presented-only');
  } else {
    // lcs[i * (m + 1) + j] = LCS length of midA[i..] and midB[j..]
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = midA[i] === midB[j] ? (lcs[(i + 1) * w + j + 1] ?? 0) + 1 : Math.max(lcs[(i + 1) * w + j] ?? 0, lcs[i * w + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        push(out, midA[i] ?? '', 'same');
        i++;
        j++;
      } else if (j >= m || (i < n && (lcs[(i + 1) * w + j] ?? 0) >= (lcs[i * w + j + 1] ?? 0))) {
        push(out, midA[i] ?? '', 'registered-only');
        i++;
      } else {
        push(out, midB[j] ?? '', 'presented-only');
        j++;
      }
    }
  }
  push(out, a.slice(s.start + n).join(''), 'same');
  return { segments: out, exact, start: s.start };
}

/** Character diff with a budget of its own (see `diffCharsWithin`). */
export function diffChars(presented: string, registered: string, budget: DiffBudget = createDiffBudget()): HighlightSegment[] {
  return diffCharsWithin(presented, registered, budget).segments;
}

export type Distance = {
  distance: number;
  /** false when the budget could not pay for the DP: `distance` is then an upper bound */
  exact: boolean;
};

/** Cells in the diagonal band |i - j| <= k of an n × m table (rows n <= columns m), at most. */
function bandCells(n: number, m: number, k: number): number {
  return Math.min(n * m, n * (2 * k + 1));
}

/** Levenshtein distance when it is at most k (Ukkonen's band), else k + 1. Requires a.length <= b.length. */
function bandedDistance(a: readonly string[], b: readonly string[], k: number): number {
  const n = a.length;
  const m = b.length;
  const over = k + 1;
  if (m - n > k) return over;
  let prev = new Int32Array(m + 1).fill(over);
  let cur = new Int32Array(m + 1).fill(over);
  for (let j = 0; j <= Math.min(m, k); j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - k);
    const hi = Math.min(m, i + k);
    cur[lo - 1] = lo === 1 && i <= k ? i : over;
    const ai = a[i - 1];
    for (let j = lo; j <= hi; j++) {
      let v = (prev[j - 1] ?? over) + (ai === b[j - 1] ? 0 : 1);
      const del = (prev[j] ?? over) + 1;
      if (del < v) v = del;
      const ins = (cur[j - 1] ?? over) + 1;
      if (ins < v) v = ins;
      cur[j] = v > over ? over : v;
    }
    if (hi < m) cur[hi + 1] = over;
    [prev, cur] = [cur, prev];
  }
  return Math.min(prev[m] ?? over, over);
}

/** How often each character (code point) occurs. */
export function charCounts(chars: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const ch of chars) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  return counts;
}

/**
 * Characters of one string that the other cannot account for (the "bag distance"): a lower bound
 * of the edit distance in O(n), no DP. A common prefix and suffix do not change it.
 */
export function bagDistance(aLength: number, aCounts: ReadonlyMap<string, number>, b: readonly string[]): number {
  let onlyB = 0;
  for (const [ch, n] of charCounts(b)) onlyB += Math.max(0, n - (aCounts.get(ch) ?? 0));
  const onlyA = aLength - (b.length - onlyB);
  return Math.max(onlyA, onlyB);
}

/** A lower bound of the edit distance of a differing stretch, from lengths and character counts. */
export function distanceLowerBound(s: DifferingStretch): number {
  if (s.a.length === 0 || s.b.length === 0) return s.upper;
  return Math.max(s.lower, bagDistance(s.a.length, charCounts(s.a), s.b));
}

/**
 * Levenshtein distance by code point (insert, delete, substitute each cost 1), paid from `budget`.
 * Thresholds double from a cheap lower bound (Ukkonen), so close strings cost a thin band of the
 * table; when the budget cannot pay, the result is the longer differing stretch, marked not exact.
 */
export function measureDistance(x: string | string[], y: string | string[], budget: DiffBudget): Distance {
  if (x === y) return { distance: 0, exact: true };
  return measureStretch(differingStretch(x, y), budget);
}

/** `measureDistance` for a stretch already cut out by `differingStretch` (and its lower bound, if known). */
export function measureStretch(s: DifferingStretch, budget: DiffBudget, lowerBound?: number): Distance {
  if (s.a.length === 0 || s.b.length === 0) return { distance: s.upper, exact: true };
  const [short, long] = s.a.length <= s.b.length ? [s.a, s.b] : [s.b, s.a];
  const n = short.length;
  const m = long.length;
  const fallback = { distance: s.upper, exact: false };
  if (remainingCells(budget) < n) return fallback; // not even one diagonal
  let k = Math.max(1, lowerBound ?? distanceLowerBound(s));
  for (;;) {
    const cells = bandCells(n, m, k);
    if (cells > MAX_CELLS || !spendCells(budget, cells)) return fallback;
    const d = bandedDistance(short, long, k);
    // k reaches the longer stretch at the latest, and no distance exceeds that
    if (d <= k) return { distance: d, exact: true };
    k = Math.min(2 * k, s.upper);
  }
}

/** Levenshtein distance by code point with a budget of its own; an upper bound when it runs out. */
export function editDistance(x: string, y: string, budget: DiffBudget = createDiffBudget()): number {
  return measureDistance(x, y, budget).distance;
}
