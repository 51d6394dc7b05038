// Presentational, no hooks: usable from server and client components alike.
import { Badge } from '@/components/ui/card';
import type { ScopeDiff } from '@/lib/smart';

function Atoms({ values, tone, empty = 'none' }: { values: readonly string[]; tone: 'neutral' | 'good' | 'warn' | 'bad' | 'info'; empty?: string }) {
  if (values.length === 0) return <span className="text-slate-400">{empty}</span>;
  return (
    <ul className="flex flex-wrap gap-1">
      {values.map((v) => (
        <li key={v}>
          <Badge tone={tone}>
            <span className="font-mono">{v}</span>
          </Badge>
        </li>
      ))}
    </ul>
  );
}

const words = (s: string) => s.split(' ').filter((t) => t !== '');

/**
 * Requested vs granted scopes (lib/smart `diffScopes`, compared on SMART atoms): the raw strings as
 * sent and answered, then what was lost, gained, not understood, and not advertised by the server.
 */
export function ScopeDiffTable({
  diff,
  requested,
  granted,
  supported,
  requestedLabel = 'Requested',
  grantedLabel = 'Granted',
}: {
  diff: ScopeDiff;
  requested: string;
  granted: string;
  /** The issuer's scopes_supported; the unsupported row is shown only when given. */
  supported?: readonly string[];
  requestedLabel?: string;
  grantedLabel?: string;
}) {
  const rows: Array<{ key: string; label: string; hint: string; cell: React.ReactNode }> = [
    { key: 'requested', label: requestedLabel, hint: 'as written', cell: <Atoms values={words(requested)} tone="neutral" empty="(empty)" /> },
    { key: 'granted', label: grantedLabel, hint: 'as written', cell: <Atoms values={words(granted)} tone="neutral" empty="(empty)" /> },
    { key: 'lost', label: 'Lost', hint: `in ${requestedLabel.toLowerCase()}, not in ${grantedLabel.toLowerCase()}`, cell: <Atoms values={diff.lost} tone="bad" /> },
    { key: 'gained', label: 'Gained', hint: `in ${grantedLabel.toLowerCase()}, not in ${requestedLabel.toLowerCase()}`, cell: <Atoms values={diff.gained} tone="info" /> },
    { key: 'unrecognized', label: 'Not SMART grammar', hint: 'compared as typed', cell: <Atoms values={diff.unrecognized} tone="warn" /> },
  ];
  if (supported !== undefined && supported.length > 0) {
    rows.push({ key: 'unsupported', label: 'Not in scopes_supported', hint: `${requestedLabel.toLowerCase()} scopes the server does not advertise`, cell: <Atoms values={diff.unsupported} tone="warn" /> });
  }
  return (
    <table className="min-w-full text-sm" data-testid="scope-diff">
      <caption className="mb-2 text-left text-sm">
        {diff.equivalent ? <Badge tone="good">equivalent</Badge> : <Badge tone="warn">differs</Badge>}{' '}
        <span className="text-slate-600">Compared on SMART atoms: patient/Observation.read equals patient/Observation.rs.</span>
      </caption>
      <tbody className="divide-y divide-slate-100">
        {rows.map((r) => (
          <tr key={r.key} data-row={r.key}>
            <th scope="row" className="w-48 py-1.5 pr-3 text-left align-top font-medium">
              {r.label}
              <span className="block text-xs font-normal text-slate-500">{r.hint}</span>
            </th>
            <td className="py-1.5 align-top">{r.cell}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
