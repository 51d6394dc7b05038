import { Badge } from '@/components/ui/card';

const DAY = 86_400_000;

/** never / unknown / none / a date with days left, coloured by how soon. */
export function ExpiryBadge({ kind, at }: { kind: string; at: string | null }) {
  if (kind === 'never') return <Badge tone="good">never expires</Badge>;
  if (kind === 'none') return <Badge>no secret</Badge>;
  if (kind === 'unknown' || !at) return <Badge tone="warn">expiry unknown</Badge>;
  const days = Math.floor((new Date(at).getTime() - Date.now()) / DAY);
  const tone = days < 0 ? 'bad' : days <= 7 ? 'bad' : days <= 30 ? 'warn' : 'good';
  return (
    <span title={at}>
      <Badge tone={tone}>{days < 0 ? `expired ${-days} d ago` : `in ${days} d`}</Badge> <span className="font-mono text-xs text-slate-500">{at.slice(0, 10)}</span>
    </span>
  );
}
