import Link from 'next/link';
import { PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';
import { countOperationsNeedingAttention } from '@/lib/registrations/reconcile';
import { parseTableParams, queryRegistrationsTable, tableFilterOptions } from '@/lib/registrations/table';
import { RegistrationFilters } from './_components/registration-filters';
import { RegistrationsTable } from './_components/registrations-table';

export default async function RegistrationsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { actor } = await requirePageUser('registrations:read');
  const params = parseTableParams(await searchParams);
  const [{ rows, total }, options, operations] = await Promise.all([queryRegistrationsTable(actor, params), tableFilterOptions(actor), countOperationsNeedingAttention(actor)]);
  return (
    <>
      <PageHeader
        title="Registrations"
        description="Every client registration of your apps at every hospital. The view is in the URL: share the link to share the view."
        actions={
          <span className="flex items-center gap-3">
            {operations ? (
              <Link href="/registrations/operations" className="text-sm text-red-700 underline">
                {operations} {operations === 1 ? 'operation needs' : 'operations need'} attention
              </Link>
            ) : null}
            {can(actor.role, 'registrations:write') ? (
              <Link href="/registrations/new" className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white">
                Onboard a hospital
              </Link>
            ) : null}
          </span>
        }
      />
      <RegistrationFilters healthSystems={options.healthSystems} apps={options.apps} environments={options.environments} canExport={can(actor.role, 'export:run')} />
      <RegistrationsTable rows={rows} total={total} page={params.page} pageSize={params.pageSize} sort={params.sort} dir={params.dir} canRotate={can(actor.role, 'registrations:write')} />
    </>
  );
}
