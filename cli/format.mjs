// Output: an aligned text table, CSV (RFC 4180, formulas defused) or JSON.

const cell = (value) => {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(' ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
};

export function toTable(rows, columns) {
  const header = columns.map((c) => c.label);
  const body = rows.map((r) => columns.map((c) => cell(c.get(r)).replace(/\s*\n\s*/g, ' ')));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/**
 * A cell a spreadsheet would run as a formula (= + - @, or a leading tab or carriage return) gets a
 * leading quote: names and client ids come from hospitals and users. The same rule as the server's
 * CSV export (lib/csv.ts csvCell), so both files open the same way.
 */
export const defuseFormula = (s) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);

export function toCsv(rows, columns) {
  const quote = (raw) => {
    const s = defuseFormula(raw);
    return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map((c) => quote(c.label)).join(','), ...rows.map((r) => columns.map((c) => quote(cell(c.get(r)))).join(','))].join('\r\n');
}

/** Prints rows in the chosen format; `raw` is what json prints (the API's own answer). */
export function printRows(format, rows, columns, raw = rows, out = process.stdout) {
  if (format === 'json') out.write(JSON.stringify(raw, null, 2) + '\n');
  else if (format === 'csv') out.write(toCsv(rows, columns) + '\r\n');
  else out.write((rows.length ? toTable(rows, columns) : '(none)') + '\n');
}

/** A single record: key/value lines as a table, or the JSON itself. */
export function printRecord(format, pairs, raw, out = process.stdout) {
  const rows = pairs.map(([k, v]) => ({ k, v }));
  printRows(format, rows, [
    { label: 'field', get: (r) => r.k },
    { label: 'value', get: (r) => r.v },
  ], raw, out);
}
