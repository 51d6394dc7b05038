import Link from 'next/link';
import { Badge, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';
import { listRecentRegistrations } from '@/lib/registrations/queries';
import { ExpiryBadge } from './_components/expiry-badge';

export default async function RegistrationsPage() {
  const { actor } = await requirePageUser('registrations:read');
  const rows = await listRecentRegistrations(actor, 200);
  return (
    <>
      <PageHeader
        title="Registrations"
        description="Your app's client registrations at every hospital, newest first. Filtering, sorting, expiry forecasts and CSV export come with the managers' view."
        actions={
          can(actor.role, 'registrations:write') ? (
            <Link href="/registrations/new" className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white">
              Onboard a hospital
            </Link>
          ) : null
        }
      />
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full text-sm">
          <thead className="bg-slate-50 text-left text-xs uppercase text-slate-500">
            <tr>
              <th className="px-3 py-2">Health system</th>
              <th className="px-3 py-2">Issuer</th>
              <th className="px-3 py-2">App / env</th>
              <th className="px-3 py-2">Client id</th>
              <th className="px-3 py-2">Auth</th>
              <th className="px-3 py-2">Secret expiry</th>
              <th className="px-3 py-2">Status</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {rows.map((r) => (
              <tr key={r.id}>
                <td className="px-3 py-2">{r.healthSystemName}</td>
                <td className="px-3 py-2 font-mono text-xs">{r.issuerUrl}</td>
                <td className="px-3 py-2">
                  {r.appName} · {r.environment}
                </td>
                <td className="px-3 py-2 font-mono text-xs">
                  <Link href={`/registrations/${r.id}`} className="hover:underline">
                    {r.clientId}
                  </Link>
                </td>
                <td className="px-3 py-2">{r.authMethod}</td>
                <td className="px-3 py-2">
                  <ExpiryBadge expiry={r.expiry} />
                </td>
                <td className="px-3 py-2">
                  <Badge tone={r.status === 'active' ? 'good' : 'bad'}>{r.status}</Badge>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 ? <p className="p-4 text-sm text-slate-500">No registrations yet.</p> : null}
      </div>
    </>
  );
}
