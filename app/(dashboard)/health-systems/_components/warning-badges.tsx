import { Badge } from '@/components/ui/card';

const TONE = { error: 'bad', warning: 'warn', info: 'info' } as const;

export function WarningBadges({ warnings }: { warnings: Array<{ code: string; severity: 'info' | 'warning' | 'error'; message: string }> }) {
  const shown = warnings.filter((w) => w.severity !== 'info');
  if (shown.length === 0) return null;
  return (
    <div className="flex flex-wrap justify-end gap-1">
      {shown.map((w, i) => (
        <span key={`${w.code}-${i}`} title={w.message}>
          <Badge tone={TONE[w.severity]}>{w.code}</Badge>
        </span>
      ))}
    </div>
  );
}
