// Pure module (browser-safe): character-level diff and edit distance for short strings (URIs).

export type HighlightKind = 'same' | 'presented-only' | 'registered-only';
export type HighlightSegment = { text: string; kind: HighlightKind };

// Above this many DP cells the middle of the strings is shown as replaced wholesale.
const MAX_CELLS = 4_000_000;

function push(out: HighlightSegment[], text: string, kind: HighlightKind): void {
  if (text.length === 0) return;
  const last = out[out.length - 1];
  if (last !== undefined && last.kind === kind) last.text += text;
  else out.push({ text, kind });
}

/**
 * Character diff (LCS) of the raw strings, by code point. Within a changed stretch the registered
 * characters come before the presented ones, so the highlight reads "registered → presented".
 */
export function diffChars(presented: string, registered: string): HighlightSegment[] {
  const a = Array.from(registered);
  const b = Array.from(presented);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }

  const out: HighlightSegment[] = [];
  push(out, a.slice(0, start).join(''), 'same');
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const n = midA.length;
  const m = midB.length;

  if ((n + 1) * (m + 1) > MAX_CELLS) {
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
  push(out, a.slice(endA).join(''), 'same');
  return out;
}

/** Levenshtein distance by code point (insert, delete, substitute each cost 1). */
export function editDistance(x: string, y: string): number {
  if (x === y) return 0;
  let a = Array.from(x);
  let b = Array.from(y);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  a = a.slice(start, endA);
  b = b.slice(start, endB);
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  if (a.length * b.length > MAX_CELLS) return Math.max(a.length, b.length);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length] ?? 0;
}
