import Link from 'next/link';
import { Badge, PageHeader } from '@/components/ui/card';
import { ListTable } from '@/components/ui/list-table';
import { auditFilterSchema, listAudit } from '@/lib/audit/queries';
import { requirePageUser } from '@/lib/auth/page-guard';

export default async function AuditPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const { actor } = await requirePageUser('audit:read');
  const raw = await searchParams;
  const filters = auditFilterSchema.parse(raw);
  const { rows, total } = await listAudit(actor, filters);
  const query = new URLSearchParams(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '' && e[0] !== 'page' && e[0] !== 'asOf'));
  const pages = Math.max(1, Math.ceil(total / filters.pageSize));
  // Later pages show the log as page 1 saw it: entries written meanwhile do not shift them.
  const asOf = filters.asOf ?? rows[0]?.id;
  const pageLink = (page: number) => `/audit?${new URLSearchParams([...query.entries(), ...(asOf ? [['asOf', String(asOf)]] : []), ['page', String(page)]]).toString()}`;
  const input = 'rounded-md border border-slate-300 bg-white px-2 py-1 text-sm';
  return (
    <>
      <PageHeader title="Audit log" description="Every change, sign-in, reveal and export: who, what, on which target, with what outcome. Append-only." />
      <form method="get" role="search" aria-label="Filter audit log" className="mb-3 flex flex-wrap items-end gap-2 text-sm">
        <label>
          <span className="block text-xs text-slate-500">Actor</span>
          <input name="actor" defaultValue={filters.actor} className={input} placeholder="email or token name" />
        </label>
        <label>
          <span className="block text-xs text-slate-500">Action</span>
          <input name="action" defaultValue={filters.action} className={input} placeholder="e.g. registration." />
        </label>
        <label>
          <span className="block text-xs text-slate-500">Target</span>
          <input name="target" defaultValue={filters.target} className={input} placeholder="id or type" />
        </label>
        <label>
          <span className="block text-xs text-slate-500">Outcome</span>
          <select name="outcome" defaultValue={filters.outcome ?? ''} className={input}>
            <option value="">any</option>
            <option>success</option>
            <option>failure</option>
            <option>denied</option>
          </select>
        </label>
        <label>
          <span className="block text-xs text-slate-500">From</span>
          <input type="date" name="from" defaultValue={filters.from} className={input} />
        </label>
        <label>
          <span className="block text-xs text-slate-500">To</span>
          <input type="date" name="to" defaultValue={filters.to} className={input} />
        </label>
        <button type="submit" className="rounded-md border border-slate-300 bg-white px-3 py-1 font-medium">
          Filter
        </button>
        <a href={`/api/audit/export?${query.toString()}`} className="ml-auto rounded-md border border-slate-300 bg-white px-3 py-1 font-medium" download>
          Export CSV
        </a>
      </form>
      <ListTable
        columns={['Time (UTC)', 'Actor', 'Action', 'Target', 'Outcome', 'Details']}
        label="Audit entries"
        dense
        footer={
          <>
            {rows.length === 0 ? <p className="p-4 text-sm text-slate-500">No entries match.</p> : null}
            <nav aria-label="Pagination" className="flex items-center justify-between px-3 py-2 text-sm">
              <span>
                {total.toLocaleString()} entries · page {filters.page} of {pages}
              </span>
              <span className="space-x-3">
                {filters.page > 1 ? <Link href={pageLink(filters.page - 1)}>Previous</Link> : null}
                {filters.page < pages ? <Link href={pageLink(filters.page + 1)}>Next</Link> : null}
                {filters.asOf ? <Link href={`/audit?${query.toString()}`}>Newest entries</Link> : null}
              </span>
            </nav>
          </>
        }
      >
        {rows.map((row) => (
          <tr key={row.id}>
            <td className="whitespace-nowrap px-3 py-2 font-mono text-xs">{row.at.toISOString().replace('T', ' ').slice(0, 19)}</td>
            <td className="px-3 py-2">
              {row.actorLabel ?? row.actorType} {row.role ? <span className="text-slate-500">({row.role})</span> : null}
            </td>
            <td className="px-3 py-2 font-mono text-xs">{row.action}</td>
            <td className="px-3 py-2 font-mono text-xs">
              <AuditTarget type={row.targetType} id={row.targetId} details={row.details} />
            </td>
            <td className="px-3 py-2">
              <Badge tone={row.outcome === 'success' ? 'good' : row.outcome === 'denied' ? 'warn' : 'bad'}>{row.outcome}</Badge>
            </td>
            <td className="px-3 py-2 text-xs">
              {row.details && Object.keys(row.details).length > 0 ? (
                <details>
                  <summary className="cursor-pointer text-slate-600">details</summary>
                  {/* Redacted when written (lib/audit/record.ts): what was done, with which ids, never a secret. */}
                  <pre className="mt-1 max-w-md overflow-x-auto whitespace-pre-wrap break-all font-mono">{JSON.stringify(row.details, null, 2)}</pre>
                </details>
              ) : null}
            </td>
          </tr>
        ))}
      </ListTable>
    </>
  );
}

/** Where an entry's target lives in the app, when it has a page: a registration, an app, a health system. */
const TARGET_PAGES: Record<string, (id: string) => string> = {
  registration: (id) => `/registrations/${id}`,
  app: (id) => `/apps/${id}`,
  health_system: (id) => `/health-systems/${id}`,
};

function AuditTarget({ type, id, details }: { type: string | null; id: string | null; details: unknown }) {
  if (!type) return null;
  const clientId = details && typeof details === 'object' && typeof (details as { clientId?: unknown }).clientId === 'string' ? (details as { clientId: string }).clientId : null;
  const page = id && TARGET_PAGES[type] && /^[0-9a-f-]{36}$/i.test(id) ? TARGET_PAGES[type](id) : null;
  const text = `${type}:${id ?? ''}`;
  return (
    <>
      {page ? (
        <Link href={page} className="underline">
          {text}
        </Link>
      ) : (
        text
      )}
      {clientId ? <span className="block text-slate-500">client {clientId}</span> : null}
    </>
  );
}
