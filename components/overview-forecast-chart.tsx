import Link from 'next/link';
import type { ForecastWeek } from '@/lib/overview/queries';

const PALETTE = ['#0f172a', '#2563eb', '#d97706', '#dc2626', '#059669', '#7c3aed', '#db2777', '#0891b2', '#65a30d', '#9333ea'];

/**
 * Expiry forecast: one stacked bar per week for the next 180 days. Each bar links to the
 * registrations table filtered to that week. Plain SVG: no chart library in the bundle.
 */
export function ForecastChart({ weeks, stackBy }: { weeks: ForecastWeek[]; stackBy: 'status' | 'healthSystem' }) {
  const keys = [...new Set(weeks.flatMap((w) => Object.keys(w.byKey)))].sort();
  const max = Math.max(1, ...weeks.map((w) => w.total));
  const width = 760;
  const height = 200;
  const barWidth = width / weeks.length - 4;
  const color = (k: string) => PALETTE[keys.indexOf(k) % PALETTE.length]!;
  return (
    <figure>
      <svg viewBox={`0 0 ${width} ${height + 30}`} role="img" aria-label={`Credentials expiring per week for the next 180 days, stacked by ${stackBy === 'status' ? 'status' : 'health system'}`} className="w-full" data-testid="forecast-chart">
        {weeks.map((w, i) => {
          const x = i * (barWidth + 4);
          const next = new Date(new Date(w.weekStart).getTime() + 7 * 86_400_000).toISOString().slice(0, 10);
          let y = height;
          return (
            <Link key={w.weekStart} href={`/registrations?expiresFrom=${w.weekStart}&expiresTo=${next}&sort=secretExpiresAt&dir=asc`} aria-label={`Week of ${w.weekStart}: ${w.total} expiring`}>
              <rect x={x} y={0} width={barWidth} height={height} fill="transparent" />
              {keys.map((k) => {
                const n = w.byKey[k] ?? 0;
                if (!n) return null;
                const h = (n / max) * (height - 10);
                y -= h;
                return (
                  <rect key={k} x={x} y={y} width={barWidth} height={h} fill={color(k)}>
                    <title>{`${w.weekStart} · ${k}: ${n}`}</title>
                  </rect>
                );
              })}
              {i % 4 === 0 ? (
                <text x={x} y={height + 16} fontSize="10" fill="#64748b">
                  {w.weekStart.slice(5)}
                </text>
              ) : null}
            </Link>
          );
        })}
      </svg>
      <figcaption className="mt-2 flex flex-wrap gap-3 text-xs">
        {keys.length === 0 ? <span className="text-slate-500">No credential expires in the next 180 days.</span> : null}
        {keys.map((k) => (
          <span key={k} className="flex items-center gap-1">
            <span className="inline-block h-2 w-3" style={{ background: color(k) }} /> {k}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
