import Link from 'next/link';
import { redirect } from 'next/navigation';
import { Badge, Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { canReadOperations, listOperationsNeedingAttention } from '@/lib/registrations/reconcile';

/** Registration operations that need a person: unknown outcome, recovery, or abandoned in flight. */
export default async function OperationsPage() {
  const { actor } = await requirePageUser('registrations:read');
  if (!canReadOperations(actor)) redirect('/forbidden');
  const rows = await listOperationsNeedingAttention(actor);
  return (
    <>
      <PageHeader title="Operations needing attention" description="Registrations whose outcome Registrar could not record. Open one to see what is known and what to do." />
      <Card>
        {rows.length === 0 ? (
          <p className="text-sm text-slate-600">Nothing needs attention.</p>
        ) : (
          <table className="w-full text-left text-sm" aria-label="Operations needing attention">
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1">Submitted</th>
                <th>App</th>
                <th>Hospital</th>
                <th>Environment</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} className="border-t border-slate-100">
                  <td className="py-1">
                    <Link className="underline" href={`/registrations/operations/${r.id}`}>
                      {r.createdAt.toISOString().slice(0, 16).replace('T', ' ')} UTC
                    </Link>
                  </td>
                  <td>{r.appName ?? '—'}</td>
                  <td>{r.healthSystemName ?? '—'}</td>
                  <td>{r.environment}</td>
                  <td>
                    <Badge tone={r.status === 'in_flight' ? 'warn' : 'bad'}>{r.status === 'in_flight' ? 'abandoned in flight' : r.status}</Badge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}
