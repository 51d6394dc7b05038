import Link from 'next/link';
import { Badge, PageHeader } from '@/components/ui/card';
import { ListTable } from '@/components/ui/list-table';
import { listApps } from '@/lib/apps/queries';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';

export default async function AppsPage() {
  const { actor } = await requirePageUser('registrations:read');
  const apps = await listApps(actor);
  return (
    <>
      <PageHeader
        title="Apps"
        description="Your applications and, per environment, the client metadata Registrar registers at each hospital. Every save is a new version."
        actions={
          can(actor.role, 'registrations:write') ? (
            <Link href="/apps/new" className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white">
              New app
            </Link>
          ) : null
        }
      />
      <ListTable columns={['App', 'software_id', 'Environments', 'Version']} footer={apps.length === 0 ? <p className="p-4 text-sm text-slate-500">No apps yet.</p> : null}>
        {apps.map((a) => (
          <tr key={a.id}>
            <td className="px-4 py-2">
              <Link href={`/apps/${a.id}`} className="font-medium hover:underline">
                {a.name}
              </Link>
            </td>
            <td className="px-4 py-2 font-mono text-xs">{a.softwareId}</td>
            <td className="space-x-1 px-4 py-2">
              {Object.entries(a.profile.environments).map(([name, e]) => (
                <Badge key={name} tone="info">
                  {name}: {e.tokenEndpointAuthMethod}
                </Badge>
              ))}
            </td>
            <td className="px-4 py-2">v{a.currentVersion}</td>
          </tr>
        ))}
      </ListTable>
    </>
  );
}
