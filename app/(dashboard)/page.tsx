import { utcMinute } from '@/lib/format-time';
import Link from 'next/link';
import { ForecastChart } from '@/components/overview-forecast-chart';
import { Badge, Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { ROLE_DESCRIPTIONS } from '@/lib/auth/permissions';
import { getOverview } from '@/lib/overview/queries';
import { countOperationsNeedingAttention } from '@/lib/registrations/reconcile';

export default async function OverviewPage({ searchParams }: { searchParams: Promise<{ stackBy?: string }> }) {
  const { actor } = await requirePageUser();
  const stackBy = (await searchParams).stackBy === 'healthSystem' ? 'healthSystem' : 'status';
  const [o, operations] = await Promise.all([getOverview(actor, { stackBy }), countOperationsNeedingAttention(actor)]);
  const stat = (label: string, value: number, href: string) => (
    <Link href={href} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm hover:border-slate-400">
      <div className="text-2xl font-semibold">{value}</div>
      <div className="text-xs text-slate-500">{label}</div>
    </Link>
  );
  return (
    <>
      <PageHeader title="Overview" description={`Signed in as ${actor.role}: ${ROLE_DESCRIPTIONS[actor.role]}`} />
      <div className="space-y-6">
        <section aria-label="Counts" className="grid grid-cols-2 gap-3 md:grid-cols-4 lg:grid-cols-8">
          {stat('active', o.byStatus.active ?? 0, '/registrations?status=active')}
          {stat('need attention', o.byStatus.needs_attention ?? 0, '/registrations?status=needs_attention')}
          {stat('management lost', o.byStatus.management_lost ?? 0, '/registrations?status=management_lost')}
          {stat('deleted', o.byStatus.deleted ?? 0, '/registrations?status=deleted')}
          {stat('expired', o.expiring.expired, '/registrations?expiringWithinDays=0&sort=secretExpiresAt&dir=asc')}
          {stat('expired or expire within 7 days', o.expiring.d7, '/registrations?expiringWithinDays=7&sort=secretExpiresAt&dir=asc')}
          {stat('expired or expire within 30 days', o.expiring.d30, '/registrations?expiringWithinDays=30&sort=secretExpiresAt&dir=asc')}
          {stat('expired or expire within 90 days', o.expiring.d90, '/registrations?expiringWithinDays=90&sort=secretExpiresAt&dir=asc')}
        </section>
        <Card
          title="Expiry forecast (next 180 days, by week)"
          actions={
            <span className="text-sm">
              Stack by{' '}
              <Link href="/?stackBy=status" className={stackBy === 'status' ? 'font-semibold' : 'underline'}>
                status
              </Link>{' '}
              ·{' '}
              <Link href="/?stackBy=healthSystem" className={stackBy === 'healthSystem' ? 'font-semibold' : 'underline'}>
                health system
              </Link>
            </span>
          }
        >
          <ForecastChart weeks={o.forecast} stackBy={stackBy} />
        </Card>
        <div className="grid grid-cols-1 gap-6 lg:grid-cols-2">
          <Card title="Needs attention">
            {o.attention.length + o.issuerAttention.length + (operations ?? 0) === 0 ? <p className="text-sm text-slate-500">Nothing needs attention.</p> : null}
            <ul className="space-y-1 text-sm">
              {operations ? (
                <li>
                  <Badge tone="bad">operations</Badge>{' '}
                  <Link href="/registrations/operations" className="underline">
                    {operations} registration {operations === 1 ? 'request needs' : 'requests need'} a person
                  </Link>{' '}
                  <span className="text-slate-500">— the hospital may hold a client Registrar could not record</span>
                </li>
              ) : null}
              {o.attention.map((a) => (
                <li key={a.id}>
                  <Badge tone="bad">{a.status}</Badge>{' '}
                  <Link href={`/registrations/${a.id}`} className="font-mono text-xs underline">
                    {a.clientId}
                  </Link>{' '}
                  at {a.healthSystemName} {a.reason ? <span className="text-slate-500">— {a.reason}</span> : null}
                </li>
              ))}
              {o.issuerAttention.map((i) => (
                <li key={i.id}>
                  <Badge tone="warn">issuer changed</Badge>{' '}
                  <Link href={`/health-systems/${i.healthSystemId}/issuers/${i.id}`} className="font-mono text-xs underline">
                    {i.url}
                  </Link>{' '}
                  ({i.healthSystemName}) {i.reason ? <span className="text-slate-500">— {i.reason}</span> : null}
                </li>
              ))}
            </ul>
          </Card>
          <Card title="Recent activity">
            {o.recent === null ? (
              <p className="text-sm text-slate-500">The activity log is for managers and admins.</p>
            ) : (
              <ul className="space-y-1 text-sm">
                {o.recent.map((r) => (
                  <li key={r.id}>
                    <span className="font-mono text-xs text-slate-500">{utcMinute(r.at)}</span> {r.actorLabel ?? 'anonymous'} ·{' '}
                    <span className="font-mono text-xs">{r.action}</span> <Badge tone={r.outcome === 'success' ? 'good' : 'warn'}>{r.outcome}</Badge>
                  </li>
                ))}
              </ul>
            )}
          </Card>
        </div>
      </div>
    </>
  );
}
