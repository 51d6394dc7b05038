import Link from 'next/link';
import { notFound, redirect } from 'next/navigation';
import { Alert, Badge, Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { isAppError } from '@/lib/errors';
import { getOperationOrThrow } from '@/lib/registrations/reconcile';
import { CloseOperationForm } from '../_components/close-operation-form';
import { ResolveOperationForm } from '../_components/resolve-operation-form';

const STATUS_TONE = { pending: 'neutral', in_flight: 'info', succeeded: 'good', failed: 'bad', outcome_unknown: 'warn', needs_recovery: 'bad' } as const;
const when = (iso: string) => `${iso.slice(0, 19).replace('T', ' ')} UTC`;

/** One registration operation: what Registrar knows about it and what a person should do. Never a secret. */
export default async function OperationPage({ params }: { params: Promise<{ id: string }> }) {
  const { actor } = await requirePageUser('registrations:read');
  const { id } = await params;
  const op = await getOperationOrThrow(actor, id).catch((error: unknown) => {
    if (isAppError(error) && error.code === 'NOT_FOUND') notFound();
    if (isAppError(error) && error.code === 'FORBIDDEN') redirect('/forbidden');
    throw error;
  });
  return (
    <>
      <PageHeader
        title="Registration operation"
        description={`${op.app.name ?? 'App'} at ${op.issuer.healthSystemName ?? 'a hospital'} · ${op.environment} · submitted ${when(op.createdAt)}${op.createdBy ? ` by ${op.createdBy}` : ''}`}
      />
      <div className="space-y-6">
        <div data-testid="operation-guidance">
          <Alert tone={op.guidance.tone}>
            <p className="font-semibold">{op.guidance.headline}</p>
            {op.guidance.steps.length ? (
              <ul className="mt-1 list-disc pl-5">
                {op.guidance.steps.map((s, i) => (
                  <li key={i}>{s}</li>
                ))}
              </ul>
            ) : null}
          </Alert>
        </div>
        <Card title="What Registrar knows">
          <dl className="grid grid-cols-1 gap-3 text-sm md:grid-cols-3">
            <div>
              <dt className="text-xs uppercase text-slate-500">Status</dt>
              <dd data-testid="operation-status">
                <Badge tone={STATUS_TONE[op.status]}>{op.status}</Badge> {op.stale ? <Badge tone="warn">abandoned: in flight since {when(op.updatedAt)}</Badge> : null}
              </dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Client name / software_id</dt>
              <dd>
                {op.clientName ?? '—'} / <code>{op.softwareId ?? '—'}</code>
              </dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Registration endpoint</dt>
              <dd className="break-all font-mono text-xs">{op.registrationEndpoint ?? '—'}</dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Issuer</dt>
              <dd className="break-all">{op.issuer.url ?? '—'}</dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Last change</dt>
              <dd>{when(op.updatedAt)}</dd>
            </div>
            {op.registration ? (
              <div>
                <dt className="text-xs uppercase text-slate-500">Registration</dt>
                <dd>
                  <Link className="underline" href={`/registrations/${op.registration.id}`}>
                    client {op.registration.clientId}
                  </Link>
                </dd>
              </div>
            ) : null}
          </dl>
          {op.error ? (
            <p className="mt-3 text-sm" data-testid="operation-error">
              <strong>{op.error.code}</strong>: {op.error.message}
            </p>
          ) : null}
          {op.resolution ? (
            <p className="mt-3 text-sm" data-testid="operation-resolution">
              Resolved by {op.resolution.resolvedBy} on {when(op.resolution.resolvedAt)}:{' '}
              {op.resolution.outcome === 'registered' ? `the hospital shows client ${op.resolution.clientId ?? ''}` : 'nothing was registered'}
              {op.resolution.note ? ` — “${op.resolution.note}”` : ''}
              {op.resolution.closed ? `. Closed by ${op.resolution.closed.by} on ${when(op.resolution.closed.at)}${op.resolution.closed.note ? ` — “${op.resolution.closed.note}”` : ''}` : ''}
            </p>
          ) : null}
        </Card>
        {op.canClose ? (
          <Card title="Close this operation">
            <CloseOperationForm operationId={op.id} clientId={op.resolution?.clientId ?? null} />
          </Card>
        ) : null}
        {op.canResolve ? (
          <Card title="Record what the hospital shows">
            <ResolveOperationForm operationId={op.id} clientName={op.clientName} softwareId={op.softwareId} />
          </Card>
        ) : null}
        <Card title="Request sent (secrets masked)">
          <pre className="max-h-80 overflow-auto rounded bg-slate-50 p-3 text-xs">{JSON.stringify(op.request, null, 2)}</pre>
        </Card>
      </div>
    </>
  );
}
