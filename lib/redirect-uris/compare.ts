// Pure module (browser-safe): the exact-match redirect URI comparator and its explanations.
//
// RFC 9700 §2.1 / §4.1.3 and RFC 6749 §3.1.2.3: servers compare redirect URIs as exact strings;
// the only exception is the port of a loopback IP redirect (RFC 8252 §7.3). The raw strings are
// never normalised with `new URL()` first: that would hide host case, `:443`, a trailing `/` and `..`.
// Differences are explained component by component from the tolerant splitter in ./split.
//
// The strings come from whoever asks, so all character-level work (edit distances, the highlight)
// is paid from one `DiffBudget` per call: only the closest registered URI is explained and
// highlighted, and past the budget the result says it is partial instead of doing the work.
import { defaultPortFor, isLoopbackIpHost, isValidPort, splitUri, type SplitUri } from './split';
import {
  bagDistance,
  charCounts,
  createDiffBudget,
  differingStretch,
  diffCharsWithin,
  highlightCells,
  measureDistance,
  measureStretch,
  remainingCells,
  shareOf,
  type CharDiff,
  type DiffBudget,
  type DifferingStretch,
  type Distance,
  type HighlightSegment,
} from './text-diff';

export type { HighlightSegment, HighlightKind, DiffBudget } from './text-diff';
export { createDiffBudget, DIFF_BUDGET_CELLS } from './text-diff';

export type MismatchCode =
  | 'SCHEME'
  | 'HOST'
  | 'HOST_CASE'
  | 'PORT'
  | 'DEFAULT_PORT'
  | 'PATH'
  | 'PATH_CASE'
  | 'TRAILING_SLASH'
  | 'QUERY'
  | 'PERCENT_ENCODING'
  | 'PERCENT_ENCODING_CASE'
  | 'DOT_SEGMENT'
  | 'FRAGMENT'
  | 'WHITESPACE'
  | 'DOUBLE_ENCODING'
  | 'INVISIBLE_CHARACTER'
  | 'NOT_REGISTERED'
  | 'LOOPBACK_PORT_ALLOWED';

export type MismatchFinding = { code: MismatchCode; message: string };

export type RedirectComparison = {
  /** true only for byte-for-byte equality or the loopback-IP port exception */
  match: boolean;
  findings: MismatchFinding[];
  /** character diff of the raw strings */
  highlight: HighlightSegment[];
  /** edit distance between the raw strings */
  distance: number;
  /**
   * Set when the strings were too long to compare character by character within the budget: the
   * highlight, the distance (then an upper bound) or the findings are partial, and a last `PATH`
   * finding says so. Never set for a match, which is a plain string comparison.
   */
  limited?: true;
};

export type ComparatorOptions = {
  /** DP cells the call may spend (default: a new budget of `DIFF_BUDGET_CELLS`); pass one to share it */
  budget?: DiffBudget;
};

/** What a comparison may spend its character-level work on; distances are remembered per pair. */
type Work = { budget: DiffBudget; memo: Map<string, Distance>; limited: boolean };

const newWork = (budget: DiffBudget): Work => ({ budget, memo: new Map(), limited: false });

function distanceIn(work: Work, x: string, y: string): Distance {
  const key = `${x}\u0000${y}`;
  let d = work.memo.get(key);
  if (d === undefined) {
    d = measureDistance(x, y, work.budget);
    work.memo.set(key, d);
  }
  return d;
}

const q = (s: string) => `'${s}'`;

/** Unicode names of the characters that cannot be told apart on screen, for the messages. */
const CHARACTER_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, 'NULL'],
  [0x09, 'CHARACTER TABULATION'],
  [0x0a, 'LINE FEED'],
  [0x0d, 'CARRIAGE RETURN'],
  [0x7f, 'DELETE'],
  [0xa0, 'NO-BREAK SPACE'],
  [0xad, 'SOFT HYPHEN'],
  [0x34f, 'COMBINING GRAPHEME JOINER'],
  [0x61c, 'ARABIC LETTER MARK'],
  [0x115f, 'HANGUL CHOSEONG FILLER'],
  [0x1160, 'HANGUL JUNGSEONG FILLER'],
  [0x1680, 'OGHAM SPACE MARK'],
  [0x180e, 'MONGOLIAN VOWEL SEPARATOR'],
  [0x2000, 'EN QUAD'],
  [0x2001, 'EM QUAD'],
  [0x2002, 'EN SPACE'],
  [0x2003, 'EM SPACE'],
  [0x2004, 'THREE-PER-EM SPACE'],
  [0x2005, 'FOUR-PER-EM SPACE'],
  [0x2006, 'SIX-PER-EM SPACE'],
  [0x2007, 'FIGURE SPACE'],
  [0x2008, 'PUNCTUATION SPACE'],
  [0x2009, 'THIN SPACE'],
  [0x200a, 'HAIR SPACE'],
  [0x200b, 'ZERO WIDTH SPACE'],
  [0x200c, 'ZERO WIDTH NON-JOINER'],
  [0x200d, 'ZERO WIDTH JOINER'],
  [0x200e, 'LEFT-TO-RIGHT MARK'],
  [0x200f, 'RIGHT-TO-LEFT MARK'],
  [0x2028, 'LINE SEPARATOR'],
  [0x2029, 'PARAGRAPH SEPARATOR'],
  [0x202a, 'LEFT-TO-RIGHT EMBEDDING'],
  [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'],
  [0x202d, 'LEFT-TO-RIGHT OVERRIDE'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x202f, 'NARROW NO-BREAK SPACE'],
  [0x205f, 'MEDIUM MATHEMATICAL SPACE'],
  [0x2060, 'WORD JOINER'],
  [0x2061, 'FUNCTION APPLICATION'],
  [0x2062, 'INVISIBLE TIMES'],
  [0x2063, 'INVISIBLE SEPARATOR'],
  [0x2064, 'INVISIBLE PLUS'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'],
  [0x2068, 'FIRST STRONG ISOLATE'],
  [0x2069, 'POP DIRECTIONAL ISOLATE'],
  [0x2800, 'BRAILLE PATTERN BLANK'],
  [0x3000, 'IDEOGRAPHIC SPACE'],
  [0x3164, 'HANGUL FILLER'],
  [0xfeff, 'ZERO WIDTH NO-BREAK SPACE'],
  [0xffa0, 'HALFWIDTH HANGUL FILLER'],
]);

const codePoint = (ch: string) => `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Characters a person cannot see, or cannot tell from an ordinary space, in a URI: controls (Cc),
 * format characters (Cf: zero-width spaces and joiners, bidi marks, the byte order mark, soft
 * hyphen), separators other than U+0020 (Z), and the other default-ignorable look-alikes.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\u034F\u115F\u1160\u17B4\u17B5\u2800\u3164\uFFA0\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/u;
const isInvisible = (ch: string) => ch !== ' ' && INVISIBLE.test(ch);
/** Whether a string holds any such character (the common case, none, is one scan). */
const INVISIBLE_ANYWHERE = new RegExp(`(?! )${INVISIBLE.source}`, 'u');

/** `U+200B ZERO WIDTH SPACE (a Unicode format character)`: the code point, its name and its kind. */
function describeInvisible(ch: string): string {
  const name = CHARACTER_NAMES.get(ch.codePointAt(0) ?? 0);
  const kind = /\p{Cc}/u.test(ch) ? 'a control character' : /\p{Cf}/u.test(ch) ? 'a Unicode format character' : /\p{Z}/u.test(ch) ? 'a space character other than the ordinary space' : 'a character that shows as nothing';
  const note = ch === '\uFEFF' ? ', the byte order mark' : ch === '\t' ? ', a tab' : ch === '\n' ? ', a newline' : '';
  return `${codePoint(ch)}${name === undefined ? '' : ` ${name}`} (${kind}${note})`;
}

function describeWhitespace(ws: string): string {
  if (ws.length === 0) return 'none';
  const names = [...ws].map((ch) => (ch === ' ' ? 'space' : ch === '\t' ? 'tab' : ch === '\n' ? 'newline' : ch === '\r' ? 'carriage return' : describeInvisible(ch)));
  return names.length === 1 ? `a ${names[0]}` : `${names.length} whitespace characters (${names.join(', ')})`;
}

/** One invisible character inside a URI (outside the surrounding whitespace). */
type Hidden = { ch: string; /** code-unit offset in the URI without its invisible characters */ at: number; /** code-unit offset in the raw URI */ offset: number; component: Component | undefined };

type Component = { name: string; text: string; start: number };

/** The components of a split URI with their code-unit offsets in `u.raw`. */
function componentsOf(u: SplitUri): Component[] {
  const out: Component[] = [];
  let at = u.leading.length;
  const add = (name: string, text: string) => {
    out.push({ name, text, start: at });
    at += text.length;
  };
  const skip = (n: number) => {
    at += n;
  };
  if (u.scheme !== null) {
    add('scheme', u.scheme);
    skip(1); // ':'
  }
  if (u.authority !== null) {
    skip(2); // '//'
    if (u.userinfo !== null) {
      add('user info', u.userinfo);
      skip(1); // '@'
    }
    add('host', u.host ?? '');
    if (u.port !== null) {
      skip(1); // ':'
      add('port', u.port);
    }
  }
  add('path', u.path);
  if (u.query !== null) {
    skip(1); // '?'
    add('query', u.query);
  }
  if (u.fragment !== null) {
    skip(1); // '#'
    add('fragment', u.fragment);
  }
  return out;
}

/** Where an invisible character is: at the start or end of its component, or after which visible text. */
function locate(h: Hidden): string {
  const c = h.component;
  if (c === undefined) return 'in the URI';
  const before = [...c.text.slice(0, h.offset - c.start)].filter((ch) => !isInvisible(ch));
  const after = [...c.text.slice(h.offset - c.start)].slice(1).some((ch) => !isInvisible(ch));
  if (!after) return `at the end of the ${c.name}`;
  if (before.length === 0) return `at the start of the ${c.name}`;
  const context = before.length > 12 ? `…${before.slice(-12).join('')}` : before.join('');
  return `in the ${c.name}, after ${q(context)}`;
}

/** The invisible characters inside a URI, and the URI without them (surrounding whitespace kept). */
function hiddenCharacters(u: SplitUri): { hidden: Hidden[]; stripped: string } {
  const body = u.raw.slice(u.leading.length, u.raw.length - u.trailing.length);
  if (!INVISIBLE_ANYWHERE.test(body)) return { hidden: [], stripped: u.raw };
  const components = componentsOf(u);
  const hidden: Hidden[] = [];
  let stripped = u.leading;
  let offset = u.leading.length;
  for (const ch of body) {
    if (isInvisible(ch)) hidden.push({ ch, at: stripped.length, offset, component: components.find((x) => offset >= x.start && offset < x.start + x.text.length) });
    else stripped += ch;
    offset += ch.length;
  }
  return { hidden, stripped: stripped + u.trailing };
}

/** At most this many invisible characters are named in one message; the rest are counted. */
const MAX_NAMED_HIDDEN = 5;

function listHidden(hs: readonly Hidden[]): string {
  const items = hs.slice(0, MAX_NAMED_HIDDEN).map((h) => `${describeInvisible(h.ch)} ${locate(h)}`);
  if (hs.length > MAX_NAMED_HIDDEN) items.push(`and ${hs.length - MAX_NAMED_HIDDEN} more`);
  return hs.length === 1 ? `an invisible character, ${items[0]}` : `${hs.length} invisible characters: ${items.join('; ')}`;
}

/**
 * Invisible characters inside the URIs (zero-width spaces, bidi marks, controls) are named one by
 * one: quoted in a message they look like nothing. When they differ, the other components are
 * compared without them, so a path that differs only by a U+200B is not called "different" with
 * two quotes that look the same. Returns the splits to compare the rest on.
 */
function compareInvisible(p: SplitUri, r: SplitUri, out: MismatchFinding[]): [SplitUri, SplitUri] {
  const hp = hiddenCharacters(p);
  const hr = hiddenCharacters(r);
  const key = (h: Hidden) => `${h.at}:${h.ch}`;
  if (hp.hidden.length === hr.hidden.length && hp.hidden.every((h, i) => key(h) === key(hr.hidden[i]!))) return [p, r];

  // Left over on each side after pairing equal characters at the same place; then the same
  // character left over on both sides is one that moved.
  const inP = new Set(hp.hidden.map(key));
  const inR = new Set(hr.hidden.map(key));
  const pRest = hp.hidden.filter((h) => !inR.has(key(h)));
  const rRest = hr.hidden.filter((h) => !inP.has(key(h)));
  const waiting = new Map<string, Hidden[]>();
  for (const h of rRest) waiting.set(h.ch, [...(waiting.get(h.ch) ?? []), h]);
  const moved: Array<[Hidden, Hidden]> = [];
  const pOnly: Hidden[] = [];
  for (const h of pRest) {
    const twin = waiting.get(h.ch)?.shift();
    if (twin === undefined) pOnly.push(h);
    else moved.push([h, twin]);
  }
  const movedR = new Set(moved.map(([, b]) => b));
  const rOnly = rRest.filter((h) => !movedR.has(h));

  const unseen = (n: number) => (n === 1 ? 'It does not show on screen, but the server compares it like any other character.' : 'They do not show on screen, but the server compares them like any other character.');
  if (pOnly.length > 0) out.push({ code: 'INVISIBLE_CHARACTER', message: `The presented URI contains ${listHidden(pOnly)}; the registered one does not. ${unseen(pOnly.length)}` });
  if (rOnly.length > 0) out.push({ code: 'INVISIBLE_CHARACTER', message: `The registered URI contains ${listHidden(rOnly)}; the presented one does not. ${unseen(rOnly.length)}` });
  for (const [a, b] of moved.slice(0, MAX_NAMED_HIDDEN)) {
    out.push({ code: 'INVISIBLE_CHARACTER', message: `Both URIs contain the invisible character ${describeInvisible(a.ch)}, in different places: the presented one ${locate(a)}, the registered one ${locate(b)}.` });
  }
  return [splitUri(hp.stripped), splitUri(hr.stripped)];
}

function compareWhitespace(p: SplitUri, r: SplitUri, out: MismatchFinding[]): void {
  for (const [where, pw, rw] of [
    ['leading', p.leading, r.leading],
    ['trailing', p.trailing, r.trailing],
  ] as const) {
    if (pw === rw) continue;
    const side = where === 'leading' ? 'before' : 'after';
    if (pw.length > 0 && rw.length === 0) {
      out.push({ code: 'WHITESPACE', message: `The presented URI has ${describeWhitespace(pw)} ${side} it; the registered one does not.` });
    } else if (rw.length > 0 && pw.length === 0) {
      out.push({ code: 'WHITESPACE', message: `The registered URI has ${describeWhitespace(rw)} ${side} it; the presented one does not. Registered values are compared exactly, stray spaces included.` });
    } else {
      out.push({ code: 'WHITESPACE', message: `The whitespace ${side} the URIs differs: the presented one has ${describeWhitespace(pw)}, the registered one has ${describeWhitespace(rw)}.` });
    }
  }
}

function compareScheme(p: SplitUri, r: SplitUri, out: MismatchFinding[]): void {
  if (p.scheme === r.scheme) return;
  if (p.scheme === null || r.scheme === null) {
    const [missing, has] = p.scheme === null ? ['presented', r] : ['registered', p];
    out.push({ code: 'SCHEME', message: `The ${missing} URI has no scheme; the ${missing === 'presented' ? 'registered' : 'presented'} one starts with ${q(`${has.scheme}:`)}.` });
  } else if (p.scheme.toLowerCase() === r.scheme.toLowerCase()) {
    out.push({ code: 'SCHEME', message: `The schemes differ only in letter case: the presented URI has ${q(p.scheme)}, the registered one ${q(r.scheme)}.` });
  } else {
    out.push({ code: 'SCHEME', message: `The presented URI uses ${p.scheme}; the registered one uses ${r.scheme}.` });
  }
}

/**
 * The ASCII (punycode, IDNA) form of a host that a browser would accept, or null. Used only to
 * explain a difference: the verdict never depends on it (servers compare the strings as written).
 */
function asciiHost(host: string): string | null {
  // Characters a URL parser would take as a delimiter or reject: such a host is not a plain name.
  if (host === '' || /[\s\\/?#@[\]%:]/u.test(host)) return null;
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return null;
  }
}

const isPunycode = (host: string) => /(^|\.)xn--/i.test(host);

/** A note when two different host strings are one internationalised domain name (IDNA, RFC 5891). */
function sameDomainName(ph: string, rh: string): string {
  const idn = (h: string) => /[^\x00-\x7f]/.test(h) || isPunycode(h);
  if (!idn(ph) && !idn(rh)) return '';
  const pa = asciiHost(ph);
  if (pa === null || pa !== asciiHost(rh)) return '';
  const unicodeOnly = (h: string) => /[^\x00-\x7f]/.test(h) && !isPunycode(h);
  const asciiOnly = (h: string) => !/[^\x00-\x7f]/.test(h);
  const forms =
    unicodeOnly(ph) && asciiOnly(rh)
      ? 'written in Unicode in the presented URI and in punycode (its ASCII form, xn--…) in the registered one'
      : asciiOnly(ph) && unicodeOnly(rh)
        ? 'written in punycode (its ASCII form, xn--…) in the presented URI and in Unicode in the registered one'
        : 'written two different ways (Unicode normalisation, letter case or punycode)';
  return ` They are the same internationalised domain name (${pa}), ${forms}. The server compares the exact string, not the name, so they do not match.`;
}

function compareAuthority(p: SplitUri, r: SplitUri, out: MismatchFinding[]): void {
  if ((p.authority === null) !== (r.authority === null)) {
    const [has, lacks, uri] = p.authority !== null ? ['presented', 'registered', p] : ['registered', 'presented', r];
    out.push({ code: 'HOST', message: `The ${has} URI has an authority (${q(`//${uri.authority ?? ''}`)}); the ${lacks} one has none.` });
    return;
  }
  if (p.authority === null || r.authority === null) return;

  if (p.userinfo !== r.userinfo) {
    out.push({
      code: 'HOST',
      message:
        p.userinfo === null
          ? `The registered URI has user info (${q(`${r.userinfo ?? ''}@`)}) before the host; the presented one has none.`
          : r.userinfo === null
            ? `The presented URI has user info (${q(`${p.userinfo}@`)}) before the host; the registered one has none.`
            : `The user info before the host differs: ${q(p.userinfo)} presented, ${q(r.userinfo)} registered.`,
    });
  }

  const ph = p.host ?? '';
  const rh = r.host ?? '';
  if (ph !== rh) {
    if (ph.toLowerCase() === rh.toLowerCase()) {
      out.push({ code: 'HOST_CASE', message: `The hosts differ only in letter case: presented ${q(ph)}, registered ${q(rh)}. The server compares them exactly.` });
    } else if (ph.replace(/\.$/, '') === rh.replace(/\.$/, '')) {
      const dotted = ph.endsWith('.') ? 'presented' : 'registered';
      out.push({ code: 'HOST', message: `The ${dotted} host ends with a dot (${q(dotted === 'presented' ? ph : rh)}); the other does not.` });
    } else if ([ph, rh].some((h) => h.toLowerCase() === 'localhost') && [ph, rh].some((h) => isLoopbackIpHost(h))) {
      out.push({ code: 'HOST', message: `The presented host is ${q(ph)}; the registered host is ${q(rh)}. localhost and a loopback IP are different strings to the server, and only the IP gets the any-port exception.` });
    } else {
      out.push({ code: 'HOST', message: `The presented host is ${q(ph)}; the registered host is ${q(rh)}.${sameDomainName(ph, rh)}` });
    }
  }

  if (p.port !== r.port) {
    const loopback = p.scheme === 'http' && r.scheme === 'http' && isLoopbackIpHost(p.host) && p.host === r.host;
    const pp = p.port ?? '';
    const rp = r.port ?? '';
    const invalid = (
      [
        ['presented', pp],
        ['registered', rp],
      ] as const
    ).filter(([, port]) => !isValidPort(port));
    if (loopback && invalid.length === 0) {
      out.push({
        code: 'LOOPBACK_PORT_ALLOWED',
        message: `The ports differ (${pp || 'none'} presented, ${rp || 'none'} registered), which is allowed for a loopback IP redirect (RFC 8252 §7.3).`,
      });
    } else if (loopback) {
      const which = invalid.map(([side, port]) => `the ${side} URI's port ${q(port)}`).join(' and ');
      out.push({
        code: 'PORT',
        message: `The ports differ (${pp || 'none'} presented, ${rp || 'none'} registered), and ${which} ${invalid.length === 1 ? 'is not a valid port number' : 'are not valid port numbers'} (1 to 5 digits, at most 65535). The loopback IP port exception (RFC 8252 §7.3) applies to valid ports only, so the server refuses it.`,
      });
    } else if (pp === '' && rp !== '' && rp === defaultPortFor(r.scheme)) {
      out.push({ code: 'DEFAULT_PORT', message: `The registered URI writes out the default port :${rp}; the presented one leaves it out. They are different strings to the server.` });
    } else if (rp === '' && pp !== '' && pp === defaultPortFor(p.scheme)) {
      out.push({ code: 'DEFAULT_PORT', message: `The presented URI writes out the default port :${pp}; the registered one leaves it out. They are different strings to the server.` });
    } else if (pp === '' || rp === '') {
      const [has, port, lacks] = pp !== '' ? ['presented', pp, 'registered'] : ['registered', rp, 'presented'];
      out.push({ code: 'PORT', message: `The ${has} URI has port ${port}; the ${lacks} one has ${(has === 'presented' ? r.port : p.port) === '' ? "an empty port (':')" : 'no port'}.` });
    } else {
      out.push({ code: 'PORT', message: `The presented URI uses port ${pp}; the registered one uses port ${rp}.` });
    }
    const last = out[out.length - 1];
    if (last !== undefined && last.code === 'PORT' && [p.host, r.host].some((h) => h?.toLowerCase() === 'localhost')) {
      last.message += ' The any-port exception covers only the loopback IPs 127.0.0.1 and [::1], not localhost.';
    }
  }
}

// ---- path and query: explain a difference by the normalisations that remove it ----

/** RFC 3986 §5.2.4 remove_dot_segments. */
export function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../') || input === '/..') {
      input = input === '/..' ? '/' : input.slice(3);
      const cut = output.lastIndexOf('/');
      output = cut < 0 ? '' : output.slice(0, cut);
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const seg = next < 0 ? input : input.slice(0, next);
      output += seg;
      input = input.slice(seg.length);
    }
  }
  return output;
}

const undoDoubleEncoding = (s: string) => s.replace(/%25([0-9A-Fa-f]{2})/g, '%$1');
const upperHex = (s: string) => s.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => `%${hex.toUpperCase()}`);

export function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // Invalid UTF-8 or a stray '%': decode the ASCII escapes only.
    return s.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

/** `onlyIfCloser`: a step whose rewrite is kept for the later steps only when it explained something. */
type Step = { code: MismatchCode; apply: (s: string) => string; message: (p: string, r: string) => string; onlyIfCloser?: true };

/**
 * Applies each normalisation to both sides in turn; a step is reported when it changed something
 * and brought the two closer. Whatever still differs at the end is reported as `rest`.
 */
function explain(p: string, r: string, steps: readonly Step[], out: MismatchFinding[], work: Work): { p: string; r: string } {
  let cp = p;
  let cr = r;
  const reported = new Set<Step>(); // a step listed twice (dot segments) is reported once
  for (const step of steps) {
    if (cp === cr) break;
    const np = step.apply(cp);
    const nr = step.apply(cr);
    const helped = (np !== cp || nr !== cr) && closer(work, np, nr, cp, cr);
    if (helped) {
      if (!reported.has(step)) out.push({ code: step.code, message: step.message(cp, cr) });
      reported.add(step);
    }
    if (helped || !step.onlyIfCloser) {
      cp = np;
      cr = nr;
    }
  }
  return { p: cp, r: cr };
}

/** Whether (np, nr) are fewer edits apart than (cp, cr), which differ. */
function closer(work: Work, np: string, nr: string, cp: string, cr: string): boolean {
  if (np === nr) return true; // distance 0, and cp !== cr
  const after = distanceIn(work, np, nr);
  const before = distanceIn(work, cp, cr);
  if (after.exact && before.exact) return after.distance < before.distance;
  // Past the budget: compare the differing stretches instead (what replacing them would take).
  work.limited = true;
  return differingStretch(np, nr).upper < differingStretch(cp, cr).upper;
}

function hasDotSegment(path: string): boolean {
  return path.split('/').some((seg) => seg === '.' || seg === '..');
}

function pathSteps(p: SplitUri, r: SplitUri): Step[] {
  const dot: Step = {
    code: 'DOT_SEGMENT',
    apply: removeDotSegments,
    message: (pp, rp) => {
      const which = hasDotSegment(pp) && hasDotSegment(rp) ? 'Both paths contain' : hasDotSegment(pp) ? 'The presented path contains' : 'The registered path contains';
      return `${which} dot segments ('.' or '..'): presented ${q(pp)}, registered ${q(rp)}. The server does not resolve them before comparing.`;
    },
  };
  const endsUri = (u: SplitUri) => u.query === null && u.fragment === null;
  return [
    dot,
    {
      code: 'DOUBLE_ENCODING',
      apply: undoDoubleEncoding,
      message: (pp, rp) => `One path is percent-encoded twice ('%25' followed by hex digits): presented ${q(pp)}, registered ${q(rp)}.`,
    },
    {
      code: 'PERCENT_ENCODING_CASE',
      apply: upperHex,
      message: (pp, rp) => `The paths differ in the letter case of percent-escapes (for example %2f vs %2F): presented ${q(pp)}, registered ${q(rp)}.`,
    },
    {
      code: 'PERCENT_ENCODING',
      apply: percentDecode,
      message: (pp, rp) => `One path percent-encodes characters that the other writes literally: presented ${q(pp)}, registered ${q(rp)}.`,
    },
    dot,
    {
      code: 'TRAILING_SLASH',
      apply: (s) => (s.endsWith('/') ? s.slice(0, -1) : s),
      message: (pp) => {
        const [has, lacks] = pp.endsWith('/') ? ['presented', 'registered'] : ['registered', 'presented'];
        const u = has === 'presented' ? p : r;
        return endsUri(u) ? `The ${has} URI ends with a slash; the ${lacks} one does not.` : `The ${has} URI's path ends with a slash; the ${lacks} one does not.`;
      },
    },
    {
      code: 'PATH_CASE',
      apply: (s) => s.toLowerCase(),
      message: (pp, rp) => `The paths differ in letter case: presented ${q(pp)}, registered ${q(rp)}. Paths are case-sensitive (Epic compares them exactly).`,
    },
  ];
}

function comparePath(p: SplitUri, r: SplitUri, out: MismatchFinding[], work: Work): void {
  if (p.path === r.path) return;
  const steps = pathSteps(p, r);

  // When the normalisations make the paths equal, each step that helped is a difference.
  const whole: MismatchFinding[] = [];
  const rest = explain(p.path, r.path, steps, whole, work);
  if (rest.p === rest.r) {
    out.push(...whole);
    return;
  }

  // Otherwise only trust what is local: dot segments and the trailing slash on the whole path,
  // then encoding and case per segment, reported only for segments they make equal. This keeps
  // '/my%20app' vs '/my+app' a plain PATH difference rather than a percent-encoding one.
  const structural = steps.filter((s) => s.code === 'DOT_SEGMENT' || s.code === 'TRAILING_SLASH');
  const norm = explain(p.path, r.path, structural, out, work);
  const pSegs = norm.p.replace(/\/$/, '').split('/');
  const rSegs = norm.r.replace(/\/$/, '').split('/');
  const local = steps.filter((s) => !structural.includes(s));
  const reported = new Set(out.map((f) => f.code));
  if (pSegs.length === rSegs.length) {
    pSegs.forEach((seg, i) => {
      const other = rSegs[i] ?? '';
      if (seg === other) return;
      const found: MismatchFinding[] = [];
      const done = explain(seg, other, local, found, work);
      if (done.p !== done.r) return;
      for (const f of found) {
        if (!reported.has(f.code)) out.push(f);
        reported.add(f.code);
      }
    });
  }
  out.push({ code: 'PATH', message: `The paths differ: presented ${q(p.path || '(empty)')}, registered ${q(r.path || '(empty)')}.` });
}

const queryEncodingSteps: Step[] = [
  {
    code: 'DOUBLE_ENCODING',
    apply: undoDoubleEncoding,
    message: (pp, rp) => `One query is percent-encoded twice ('%25' followed by hex digits): presented ${q(pp)}, registered ${q(rp)}.`,
  },
  {
    code: 'PERCENT_ENCODING_CASE',
    apply: upperHex,
    message: (pp, rp) => `The queries differ in the letter case of percent-escapes: presented ${q(pp)}, registered ${q(rp)}.`,
  },
  {
    // application/x-www-form-urlencoded: '+' and '%20' both spell a space in a query.
    code: 'PERCENT_ENCODING',
    apply: (s) => s.replace(/\+|%20/g, ' '),
    onlyIfCloser: true,
    message: (pp, rp) =>
      `The queries spell a space differently: the presented one writes ${spaceSpellings(pp)}, the registered one ${spaceSpellings(rp)}. Both mean a space in a query, but the server compares the exact string: presented ${q(pp)}, registered ${q(rp)}.`,
  },
  {
    code: 'PERCENT_ENCODING',
    apply: percentDecode,
    message: (pp, rp) => `One query percent-encodes characters that the other writes literally: presented ${q(pp)}, registered ${q(rp)}.`,
  },
];

/** How a query writes its spaces: '+', '%20', or a literal space. */
function spaceSpellings(query: string): string {
  const found = [query.includes('+') ? "'+'" : null, query.includes('%20') ? "'%20'" : null, query.includes(' ') ? 'a literal space' : null].filter((x) => x !== null);
  return found.length === 0 ? 'no space' : found.join(' and ');
}

function compareQuery(p: SplitUri, r: SplitUri, out: MismatchFinding[], work: Work): void {
  if (p.query === r.query) return;
  if (p.query === null || r.query === null) {
    const [has, lacks, value] = p.query !== null ? ['presented', 'registered', p.query] : ['registered', 'presented', r.query ?? ''];
    out.push({
      code: 'QUERY',
      message: value === '' ? `The ${has} URI ends its path with an empty query ('?'); the ${lacks} one has no '?'.` : `The ${has} URI has a query (${q(`?${value}`)}); the ${lacks} one has none.`,
    });
    return;
  }
  const norm = explain(p.query, r.query, queryEncodingSteps, out, work);
  if (norm.p === norm.r) return;

  const pp = norm.p.split('&');
  const rp = norm.r.split('&');
  const sorted = (xs: string[]) => [...xs].sort().join('&');
  if (sorted(pp) === sorted(rp)) {
    out.push({ code: 'QUERY', message: `The query has the same parameters in a different order: presented ${q(`?${p.query}`)}, registered ${q(`?${r.query}`)}.` });
    return;
  }
  // Multiset difference in linear time (a query can hold thousands of parameters): each presented
  // parameter uses up the first unused equal registered one; the rest of each side is left over.
  const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const inP = count(pp);
  const inR = count(rp);
  const seen = new Map<string, number>();
  const tally = (x: string) => {
    const n = (seen.get(x) ?? 0) + 1;
    seen.set(x, n);
    return n;
  };
  let remaining = rp.filter((x) => tally(x) > Math.min(inP.get(x) ?? 0, inR.get(x) ?? 0));
  seen.clear();
  let extra = pp.filter((x) => tally(x) > (inR.get(x) ?? 0));
  // A left-over parameter the other side also has (fewer times) is a repetition, not a new one.
  const repeatedP = [...new Set(extra.filter((x) => inR.has(x)))];
  const repeatedR = [...new Set(remaining.filter((x) => inP.has(x)))];
  extra = extra.filter((x) => !inR.has(x));
  remaining = remaining.filter((x) => !inP.has(x));

  // A left-over presented parameter and the first left-over registered one of the same name differ.
  const nameOf = (item: string) => {
    const eq = item.indexOf('=');
    return eq < 0 ? item : item.slice(0, eq);
  };
  const byName = new Map<string, { at: number[]; next: number }>();
  remaining.forEach((x, i) => {
    const slot = byName.get(nameOf(x));
    if (slot === undefined) byName.set(nameOf(x), { at: [i], next: 0 });
    else slot.at.push(i);
  });
  const pairedR = new Set<number>();
  const pairedP = new Set<number>();
  const changed: string[] = [];
  extra.forEach((item, i) => {
    const slot = byName.get(nameOf(item));
    const twinAt = slot?.at[slot.next];
    if (slot === undefined || twinAt === undefined) return;
    slot.next++;
    const twin = remaining[twinAt] ?? '';
    const caseOnly = item.toLowerCase() === twin.toLowerCase();
    changed.push(`${q(nameOf(item))} is ${q(item)} presented but ${q(twin)} registered${caseOnly ? ' (letter case only)' : ''}`);
    pairedP.add(i);
    pairedR.add(twinAt);
  });
  remaining = remaining.filter((_x, i) => !pairedR.has(i));
  extra = extra.filter((_x, i) => !pairedP.has(i));
  if (changed.length > 0) out.push({ code: 'QUERY', message: `A query parameter differs: ${changed.join('; ')}.` });

  const times = (n: number) => (n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`);
  const namesP = count(pp.map(nameOf));
  const namesR = count(rp.map(nameOf));
  // Left-over parameters whose name the other side has fewer times: the name is repeated.
  const repeatedNames = (items: string[], side: 'presented' | 'registered') => {
    const [mine, theirs, other] = side === 'presented' ? [namesP, namesR, 'registered'] : [namesR, namesP, 'presented'];
    const names = [...new Set(items.map(nameOf))].filter((n) => (mine.get(n) ?? 0) > (theirs.get(n) ?? 0) && (theirs.get(n) ?? 0) > 0);
    return names.map((n) => ` The parameter ${q(n)} appears ${times(mine.get(n) ?? 0)} in the ${side} query and ${times(theirs.get(n) ?? 0)} in the ${other} one.`).join('');
  };
  if (remaining.length > 0) out.push({ code: 'QUERY', message: `The presented query lacks ${remaining.map(q).join(', ')}, which the registered URI has.${repeatedNames(remaining, 'registered')}` });
  if (extra.length > 0) out.push({ code: 'QUERY', message: `The presented query has ${extra.map(q).join(', ')}, which the registered URI does not.${repeatedNames(extra, 'presented')}` });
  const repeats = (items: string[], mine: Map<string, number>, theirs: Map<string, number>, other: string) =>
    items.map((x) => `${q(x)} appears ${times(mine.get(x) ?? 0)} there and ${times(theirs.get(x) ?? 0)} in the ${other} URI`).join('; ');
  if (repeatedP.length > 0) {
    out.push({ code: 'QUERY', message: `The presented query repeats ${repeatedP.length === 1 ? 'a parameter' : 'parameters'}: ${repeats(repeatedP, inP, inR, 'registered')}.` });
  }
  if (repeatedR.length > 0) {
    out.push({ code: 'QUERY', message: `The registered query repeats ${repeatedR.length === 1 ? 'a parameter' : 'parameters'}: ${repeats(repeatedR, inR, inP, 'presented')}.` });
  }
}

function compareFragment(p: SplitUri, r: SplitUri, out: MismatchFinding[]): void {
  if (p.fragment === r.fragment) return;
  if (p.fragment !== null && r.fragment !== null) {
    out.push({ code: 'FRAGMENT', message: `The fragments differ: presented ${q(`#${p.fragment}`)}, registered ${q(`#${r.fragment}`)}. Redirect URIs should have no fragment at all.` });
  } else {
    const [has, lacks, value] = p.fragment !== null ? ['presented', 'registered', p.fragment] : ['registered', 'presented', r.fragment ?? ''];
    out.push({ code: 'FRAGMENT', message: `The ${has} URI has a fragment (${q(`#${value}`)}); the ${lacks} one does not. Redirect URIs must not have a fragment.` });
  }
}

function withoutPort(u: SplitUri): string {
  const auth = u.authority === null ? '' : `//${u.userinfo === null ? '' : `${u.userinfo}@`}${u.host ?? ''}`;
  return `${u.leading}${u.scheme ?? ''}:${auth}${u.path}${u.query === null ? '' : `?${u.query}`}${u.fragment === null ? '' : `#${u.fragment}`}${u.trailing}`;
}

/** RFC 8252 §7.3: the same http loopback IP URI but for the port, and both ports valid. */
function isLoopbackPortMatch(p: SplitUri, r: SplitUri): boolean {
  return (
    p.scheme === 'http' &&
    r.scheme === 'http' &&
    p.authority !== null &&
    r.authority !== null &&
    isLoopbackIpHost(p.host) &&
    p.host === r.host &&
    isValidPort(p.port) &&
    isValidPort(r.port) &&
    withoutPort(p) === withoutPort(r)
  );
}

type Explanation = { match: boolean; findings: MismatchFinding[]; limited: boolean };

/** The findings for one pair; the verdict is string comparison only, whatever the budget. */
function explainPair(presented: string, registered: string, p: SplitUri, r: SplitUri, budget: DiffBudget): Explanation {
  if (presented === registered) return { match: true, findings: [], limited: false };
  const work = newWork(budget);
  const findings: MismatchFinding[] = [];
  // Without their invisible characters (named first), the URIs are compared component by component;
  // whitespace the removal leaves at either end counts as surrounding whitespace.
  const invisible: MismatchFinding[] = [];
  const [vp, vr] = compareInvisible(p, r, invisible);
  compareWhitespace(vp, vr, findings);
  findings.push(...invisible);
  compareScheme(vp, vr, findings);
  compareAuthority(vp, vr, findings);
  comparePath(vp, vr, findings, work);
  compareQuery(vp, vr, findings, work);
  compareFragment(vp, vr, findings);

  if (isLoopbackPortMatch(p, r)) {
    return { match: true, findings: findings.filter((f) => f.code === 'LOOPBACK_PORT_ALLOWED'), limited: work.limited };
  }
  if (findings.length === 0 || findings.every((f) => f.code === 'LOOPBACK_PORT_ALLOWED')) {
    // Defensive: the strings differ but no component did (should not happen with the splitter).
    findings.push({ code: 'PATH', message: 'The URIs differ; see the highlighted characters.' });
  }
  return { match: false, findings, limited: work.limited };
}

/** Puts the parts together; a mismatch whose parts are partial says so in a last finding. */
function assemble(explanation: Explanation, distance: Distance, diff: CharDiff): RedirectComparison {
  const limited = explanation.limited || !distance.exact || !diff.exact;
  if (!limited || explanation.match) return { match: explanation.match, findings: explanation.findings, highlight: diff.segments, distance: distance.distance };
  const notes = [
    diff.exact ? '' : ' The highlight marks everything from there to the last difference as changed.',
    explanation.limited ? ' The findings above may be incomplete.' : '',
    distance.exact ? '' : ` They differ in at most ${distance.distance} characters.`,
  ].join('');
  return {
    match: false,
    findings: [
      ...explanation.findings,
      {
        code: 'PATH',
        message: `The URIs differ from character ${diff.start + 1} on; they are too long to explain character by character within the limits of one diagnosis.${notes}`,
      },
    ],
    highlight: diff.segments,
    distance: distance.distance,
    limited: true,
  };
}

const exactMatch = (uri: string): RedirectComparison => ({ match: true, findings: [], highlight: uri === '' ? [] : [{ text: uri, kind: 'same' }], distance: 0 });

/**
 * RFC 9700 §2.1 exact redirect URI matching, with the RFC 8252 §7.3 loopback-IP port exception;
 * every difference is named so a support person can see why the server said no.
 */
export function compareRedirectUri(presented: string, registered: string, options: ComparatorOptions = {}): RedirectComparison {
  if (presented === registered) return exactMatch(presented);
  const budget = options.budget ?? createDiffBudget();
  // Half of what is left for the findings, half of the rest for the distance, the rest for the highlight.
  const explanation = explainPair(presented, registered, splitUri(presented), splitUri(registered), shareOf(budget, remainingCells(budget) / 2));
  const distance = measureDistance(presented, registered, shareOf(budget, remainingCells(budget) / 2));
  return assemble(explanation, distance, diffCharsWithin(presented, registered, budget));
}

export type ClosestRegisteredUri = {
  match: boolean;
  candidate: string | null;
  findings: MismatchFinding[];
  highlight: HighlightSegment[];
  /** every registered URI in list order; `approximate` marks a distance that is only an upper bound */
  perCandidate: Array<{ uri: string; match: boolean; distance: number; approximate?: true }>;
  /** as in `RedirectComparison`: the closest candidate's explanation is partial */
  limited?: true;
};

/** Explained in full when they tie for closest; further ties are decided by list order. */
const MAX_EXPLAINED = 8;
/** The share of the budget for finding the closest candidate; the rest explains and highlights it. */
const RANKING_SHARE = 0.4;

type Candidate = {
  uri: string;
  index: number;
  split: SplitUri;
  /** 0 exact match, 1 loopback-port match, 2 no match */
  tier: 0 | 1 | 2;
  stretch: DifferingStretch;
  lower: number;
  distance: Distance | null;
};

/**
 * Compares a presented redirect URI with every registered one and explains the closest: an exact
 * match first, then a loopback-port match, then the smallest edit distance (fewer findings, then
 * list order, break ties). Verdicts are string comparisons; distances are computed once per
 * distinct URI, closest first by a cheap lower bound, and only the closest are explained.
 */
export function findClosestRegisteredUri(presented: string, registered: readonly string[], options: ComparatorOptions = {}): ClosestRegisteredUri {
  if (registered.length === 0) {
    return {
      match: false,
      candidate: null,
      findings: [{ code: 'NOT_REGISTERED', message: 'No redirect URIs are registered for this client, so no redirect URI can match.' }],
      highlight: presented.length > 0 ? [{ text: presented, kind: 'presented-only' }] : [],
      perCandidate: [],
    };
  }
  const budget = options.budget ?? createDiffBudget();
  const p = splitUri(presented);
  const presentedChars = Array.from(presented);
  const presentedCounts = charCounts(presentedChars);

  // One candidate per distinct URI (a duplicate has the same result, and list order prefers the first).
  const byUri = new Map<string, Candidate>();
  registered.forEach((uri, index) => {
    if (byUri.has(uri)) return;
    const split = splitUri(uri);
    const tier = uri === presented ? 0 : isLoopbackPortMatch(p, split) ? 1 : 2;
    const chars = Array.from(uri);
    const stretch = differingStretch(presentedChars, chars);
    // the stretches' bag distance equals the whole strings', so one count of the presented URI serves all
    const lower = stretch.a.length === 0 || stretch.b.length === 0 ? stretch.upper : Math.max(stretch.lower, bagDistance(presentedChars.length, presentedCounts, chars));
    byUri.set(uri, { uri, index, split, tier, stretch, lower, distance: tier === 0 ? { distance: 0, exact: true } : null });
  });
  const candidates = [...byUri.values()];
  const byLowerBound = (a: Candidate, b: Candidate) => a.lower - b.lower || a.index - b.index;

  // The smallest distance in the best tier: by increasing lower bound, until no later one can reach it.
  const tier = candidates.reduce((t, c) => Math.min(t, c.tier), 2);
  const contenders = candidates.filter((c) => c.tier === tier).sort(byLowerBound);
  const ranking = shareOf(budget, remainingCells(budget) * RANKING_SHARE);
  let closest = Number.POSITIVE_INFINITY;
  for (const c of contenders) {
    if (c.lower > closest) break;
    c.distance ??= measureStretch(c.stretch, ranking, c.lower);
    closest = Math.min(closest, c.distance.distance);
  }
  const tied = contenders
    .filter((c) => c.distance?.distance === closest)
    .sort((a, b) => a.index - b.index)
    .slice(0, MAX_EXPLAINED);

  // Explain the tied ones (fewer findings wins), keeping the cells for the winner's highlight.
  const reserve = Math.min(Math.max(...tied.map((c) => highlightCells(c.stretch))), remainingCells(budget) / 2);
  const explaining = shareOf(budget, remainingCells(budget) - reserve);
  let best: { candidate: Candidate; explanation: Explanation } | null = null;
  for (const c of tied) {
    const explanation = explainPair(presented, c.uri, p, c.split, explaining);
    if (best === null || explanation.findings.length < best.explanation.findings.length) best = { candidate: c, explanation };
  }
  // `registered` is non-empty, so some candidate is in the best tier and has a distance.
  if (best === null || best.candidate.distance === null) throw new Error('unreachable');
  const comparison = assemble(best.explanation, best.candidate.distance, diffCharsWithin(presented, best.candidate.uri, budget));

  // The other candidates' distances, for the list beside the verdict, from what is left.
  for (const c of [...candidates].sort(byLowerBound)) c.distance ??= measureStretch(c.stretch, budget, c.lower);

  return {
    match: comparison.match,
    candidate: best.candidate.uri,
    findings: comparison.findings,
    highlight: comparison.highlight,
    perCandidate: registered.map((uri) => {
      const c = byUri.get(uri);
      const d = c?.distance ?? { distance: Math.max(uri.length, presented.length), exact: false }; // every candidate has one by now
      return { uri, match: c !== undefined && c.tier < 2, distance: d.distance, ...(d.exact ? {} : { approximate: true as const }) };
    }),
    ...(comparison.limited ? { limited: true as const } : {}),
  };
}
