import 'server-only';

/** One row of a field-by-field comparison of two client metadata records. */
export type DriftRow = {
  field: string;
  /** JSON text of each side's value, or null when the field is absent there. */
  left: string | null;
  right: string | null;
  differs: boolean;
};

/** Fields whose members are a set: order is not a difference (RFC 7591 §2 defines them as arrays of values). */
const UNORDERED_FIELDS = new Set(['redirect_uris', 'grant_types', 'response_types', 'contacts', 'post_logout_redirect_uris', 'request_uris', 'default_acr_values']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Stable JSON: object keys sorted, so `{a,b}` and `{b,a}` compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function scopeSet(scope: string): string {
  return [...new Set(scope.split(/\s+/).filter((s) => s !== ''))].sort().join(' ');
}

/**
 * Whether two values of a metadata field mean the same registration: `scope` is a space-separated
 * set (RFC 6749 §3.3), set-valued arrays ignore order; everything else is compared exactly
 * (strings byte for byte: a redirect URI's case or trailing slash is a real difference).
 */
export function sameMetadataValue(field: string, a: unknown, b: unknown): boolean {
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  if (field === 'scope' && typeof a === 'string' && typeof b === 'string') return scopeSet(a) === scopeSet(b);
  if (UNORDERED_FIELDS.has(field) && Array.isArray(a) && Array.isArray(b)) {
    return canonical(a.map(canonical).sort()) === canonical(b.map(canonical).sort());
  }
  return canonical(a) === canonical(b);
}

/**
 * Field-by-field comparison of two metadata records over the union of their fields (or the given
 * fields), sorted by field name. Values are returned as JSON text: safe to hand to the browser.
 */
export function compareMetadataRecords(left: Record<string, unknown>, right: Record<string, unknown>, fields?: readonly string[]): DriftRow[] {
  const names = fields ?? [...new Set([...Object.keys(left), ...Object.keys(right)])];
  return [...names].sort().map((field) => {
    const l = left[field];
    const r = right[field];
    return {
      field,
      left: l === undefined ? null : JSON.stringify(l),
      right: r === undefined ? null : JSON.stringify(r),
      differs: !sameMetadataValue(field, l, r),
    };
  });
}
