import Link from 'next/link';
import { Badge, Card, PageHeader } from '@/components/ui/card';
import { ListTable } from '@/components/ui/list-table';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';
import { listHealthSystems } from '@/lib/health-systems/queries';
import { getBulkOperation } from '@/lib/issuers/refresh-all';
import { CreateHealthSystemForm } from './_components/create-health-system-form';
import { RefreshAllButton } from './_components/refresh-all-button';

const SEVERITY_TONE = { error: 'bad', warning: 'warn', info: 'info' } as const;

export default async function HealthSystemsPage() {
  const { actor } = await requirePageUser('health-systems:read');
  const [systems, lastRefresh] = await Promise.all([listHealthSystems(actor), getBulkOperation(actor, null)]);
  const canWrite = can(actor.role, 'health-systems:write');
  return (
    <>
      <PageHeader
        title="Health systems"
        description="The organisations you connect to, and their authorization servers per environment. Issuers are re-discovered daily."
        actions={canWrite ? <RefreshAllButton initial={lastRefresh} /> : null}
      />
      <div className="space-y-6">
        {canWrite ? (
          <Card title="New health system">
            <CreateHealthSystemForm />
          </Card>
        ) : null}
        <ListTable
          columns={['Name', 'Issuers', 'Registrations', 'Worst warning']}
          footer={systems.length === 0 ? <p className="p-4 text-sm text-slate-500">No health systems yet.{canWrite ? ' Create the first one above.' : ''}</p> : null}
        >
          {systems.map((s) => (
            <tr key={s.id}>
              <td className="px-4 py-2">
                <Link href={`/health-systems/${s.id}`} className="font-medium underline-offset-2 hover:underline">
                  {s.name}
                </Link>
                {s.tags.map((t) => (
                  <span key={t} className="ml-2">
                    <Badge>{t}</Badge>
                  </span>
                ))}
                {s.needsAttention ? (
                  <span className="ml-2">
                    <Badge tone="bad">needs attention</Badge>
                  </span>
                ) : null}
              </td>
              <td className="px-4 py-2">{s.issuerCount}</td>
              <td className="px-4 py-2">{s.registrationCount}</td>
              <td className="px-4 py-2">
                {s.worstWarning ? (
                  <span title={s.worstWarning.message}>
                    <Badge tone={SEVERITY_TONE[s.worstWarning.severity as keyof typeof SEVERITY_TONE] ?? 'neutral'}>{s.worstWarning.code}</Badge>
                  </span>
                ) : (
                  <span className="text-slate-400">none</span>
                )}
              </td>
            </tr>
          ))}
        </ListTable>
      </div>
    </>
  );
}
