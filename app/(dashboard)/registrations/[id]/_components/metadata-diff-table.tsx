import { Badge } from '@/components/ui/card';

export type DiffTableRow = { field: string; left: string | null; right: string | null; differs: boolean };

/** Field, one record, the other; differing rows highlighted. Values arrive as JSON text. */
export function MetadataDiffTable({ rows, leftLabel, rightLabel, testId }: { rows: DiffTableRow[]; leftLabel: string; rightLabel: string; testId: string }) {
  return (
    <table className="min-w-full text-sm" data-testid={testId}>
      <thead className="text-left text-xs uppercase text-slate-500">
        <tr>
          <th className="py-1">Field</th>
          <th className="py-1">{leftLabel}</th>
          <th className="py-1">{rightLabel}</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {rows.map((r) => (
          <tr key={r.field} className={r.differs ? 'bg-amber-50' : ''} data-field={r.field} data-differs={r.differs ? 'true' : undefined}>
            <td className="py-1 pr-3 font-mono text-xs">
              {r.field} {r.differs ? <Badge tone="warn">differs</Badge> : null}
            </td>
            <td className="break-all py-1 pr-3 font-mono text-xs">{r.left ?? '—'}</td>
            <td className="break-all py-1 font-mono text-xs">{r.right ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
