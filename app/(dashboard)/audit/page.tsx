import { Badge, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { listRecentAudit } from '@/lib/audit/queries';

export default async function AuditPage() {
  const { actor } = await requirePageUser('audit:read');
  const rows = await listRecentAudit(actor, 100);
  return (
    <>
      <PageHeader title="Audit log" description="The latest 100 entries. Filters and CSV export come with the audit view's own work." />
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full text-sm">
          <thead className="bg-slate-50 text-left text-xs uppercase text-slate-500">
            <tr>
              <th className="px-3 py-2">Time (UTC)</th>
              <th className="px-3 py-2">Actor</th>
              <th className="px-3 py-2">Action</th>
              <th className="px-3 py-2">Target</th>
              <th className="px-3 py-2">Outcome</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {rows.map((row) => (
              <tr key={row.id}>
                <td className="whitespace-nowrap px-3 py-2 font-mono text-xs">{row.at.toISOString().replace('T', ' ').slice(0, 19)}</td>
                <td className="px-3 py-2">
                  {row.actorLabel ?? row.actorType} {row.role ? <span className="text-slate-500">({row.role})</span> : null}
                </td>
                <td className="px-3 py-2 font-mono text-xs">{row.action}</td>
                <td className="px-3 py-2 font-mono text-xs">{row.targetType ? `${row.targetType}:${row.targetId ?? ''}` : ''}</td>
                <td className="px-3 py-2">
                  <Badge tone={row.outcome === 'success' ? 'good' : row.outcome === 'denied' ? 'warn' : 'bad'}>{row.outcome}</Badge>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 ? <p className="p-4 text-sm text-slate-500">No entries yet.</p> : null}
      </div>
    </>
  );
}
