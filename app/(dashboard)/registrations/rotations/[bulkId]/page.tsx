import Link from 'next/link';
import { notFound } from 'next/navigation';
import { Badge, Card, PageHeader } from '@/components/ui/card';
import { ListTable } from '@/components/ui/list-table';
import { requirePageUser } from '@/lib/auth/page-guard';
import { isAppError } from '@/lib/errors';
import { bulkRotationProgress, type BulkRotationProgress } from '@/lib/rotation/bulk';
import { STRATEGY_LABELS } from '@/lib/rotation/plan';
import { AutoRefresh } from './_components/auto-refresh';
import { utcMinute } from '@/lib/format-time';

const TONE = { current: 'good', failed: 'bad', waiting_for_verification: 'warn', waiting_for_initial_access_token: 'warn' } as const;

export default async function BulkRotationPage({ params }: { params: Promise<{ bulkId: string }> }) {
  const { actor } = await requirePageUser('registrations:read');
  const { bulkId } = await params;
  let progress: BulkRotationProgress;
  try {
    progress = await bulkRotationProgress(actor, { bulkId });
  } catch (error) {
    if (isAppError(error) && (error.code === 'NOT_FOUND' || error.code === 'INVALID')) notFound();
    throw error;
  }
  const { counts } = progress;
  const settled = counts.current + counts.failed + counts.waiting + counts.retrying;
  const percent = counts.total === 0 ? 100 : Math.round((settled / counts.total) * 100);
  return (
    <>
      <PageHeader
        title="Bulk rotation"
        description={`Started ${utcMinute(progress.startedAt)}${progress.startedBy ? ` by ${progress.startedBy}` : ''}.`}
      />
      <AutoRefresh active={!progress.done} />
      <Card title={progress.done ? 'Finished' : 'In progress'}>
        <div role="progressbar" aria-label="Bulk rotation progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} className="h-2 w-full overflow-hidden rounded bg-slate-200">
          <div className="h-full bg-slate-900 transition-all" style={{ width: `${percent}%` }} />
        </div>
        <p className="mt-2 text-sm" data-testid="bulk-rotation-counts">
          {counts.current} of {counts.total} rotated · {counts.failed} failed · {counts.waiting} waiting for a person · {counts.running} in progress
          {counts.retrying ? ` · ${counts.retrying} retrying later (next ${utcMinute(progress.nextRetryAt!)})` : ''}
          {progress.notStarted.length ? ` · ${progress.notStarted.length} not started` : ''}
          {progress.joined ? ` · ${progress.joined} already rotating (on their own pages)` : ''}
        </p>
      </Card>
      {progress.notStarted.length ? (
        <div className="mt-4">
        <Card title="Not started">
          <ul className="space-y-1 text-sm" aria-label="Registrations not started">
            {progress.notStarted.map((r) => (
              <li key={r.registrationId}>
                {r.clientId ? (
                  <Link href={`/registrations/${r.registrationId}`} className="font-mono text-xs underline">
                    {r.clientId}
                  </Link>
                ) : (
                  <span className="font-mono text-xs">{r.registrationId}</span>
                )}{' '}
                — {r.reason}
              </li>
            ))}
          </ul>
        </Card>
        </div>
      ) : null}
      <ListTable columns={['Health system', 'App', 'Client id', 'Strategy', 'State', 'Problem']} label="Rotations of this bulk rotation" dense className="mt-4">
        {progress.rows.map((row) => (
          <tr key={row.rotationId}>
            <td className="px-3 py-2">{row.hospital}</td>
            <td className="px-3 py-2">
              {row.app} <span className="text-slate-500">({row.environment})</span>
            </td>
            <td className="px-3 py-2 font-mono text-xs">
              <Link href={`/registrations/${row.registrationId}`} className="hover:underline">
                {row.clientId}
              </Link>
              {row.newClientId && row.newRegistrationId ? (
                <>
                  {' → '}
                  <Link href={`/registrations/${row.newRegistrationId}`} className="hover:underline" title="The new client this re-registration created">
                    {row.newClientId}
                  </Link>
                </>
              ) : null}
            </td>
            <td className="px-3 py-2">{STRATEGY_LABELS[row.strategy]}</td>
            <td className="px-3 py-2">
              <Badge tone={TONE[row.state as keyof typeof TONE] ?? 'info'}>{row.state.replace(/_/g, ' ')}</Badge>
            </td>
            <td className="px-3 py-2 text-slate-700">{row.error ?? ''}</td>
          </tr>
        ))}
      </ListTable>
    </>
  );
}
