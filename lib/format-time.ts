/**
 * Times as every page shows them: in UTC and labelled so, to the minute (`2026-11-28 21:40 UTC`),
 * or a day (`2026-11-28`) where the column says UTC. One format everywhere: a manager comparing
 * an expiry on one page with a rotation on another reads the same zone. Pure (server and browser).
 */
export function utcMinute(value: Date | string | null | undefined, none = '—'): string {
  const date = toDate(value);
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : none;
}

export function utcDay(value: Date | string | null | undefined, none = '—'): string {
  const date = toDate(value);
  return date ? date.toISOString().slice(0, 10) : none;
}

function toDate(value: Date | string | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
