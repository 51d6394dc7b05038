import { utcMinute } from '@/lib/format-time';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { Alert, Badge, Card, PageHeader } from '@/components/ui/card';
import { CopyButton } from '@/components/ui/copy-button';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';
import { isAppError } from '@/lib/errors';
import { getIssuerOrThrow, listDiscoveryRuns } from '@/lib/issuers/queries';
import { describePrecedence, WARNING_HELP, type Attempt } from '@/lib/oauth/discovery';
import { EpicClientIdForm } from './epic-client-id-form';
import { IssuerActions } from './issuer-actions';

const SEVERITY_TONE = { error: 'bad', warning: 'warn', info: 'info' } as const;

/** A stored warning's code is a plain string (runs recorded by older versions may use retired codes). */
const helpFor = (code: string): string | null => (WARNING_HELP as Partial<Record<string, { help: string }>>)[code]?.help ?? null;

export default async function IssuerPage({ params }: { params: Promise<{ id: string; issuerId: string }> }) {
  const { actor } = await requirePageUser('health-systems:read');
  const { id, issuerId } = await params;
  const issuer = await getIssuerOrThrow(actor, issuerId).catch((error: unknown) => {
    if (isAppError(error) && error.code === 'NOT_FOUND') notFound();
    throw error;
  });
  if (issuer.healthSystemId !== id) notFound();
  const runs = await listDiscoveryRuns(actor, issuerId, 20);
  const latest = runs[0];
  const latestOk = runs.find((r) => r.outcome === 'ok');
  const documents = (latestOk?.result.documents ?? {}) as Record<string, unknown>;
  const attempts = ((latest?.result.attempts as Attempt[] | undefined) ?? []) as Attempt[];
  const canWrite = can(actor.role, 'health-systems:write');

  return (
    <>
      <PageHeader
        title={issuer.issuerUrl ?? issuer.inputUrl}
        description={`${issuer.healthSystemName} · ${issuer.environment}${issuer.lastDiscoveredAt ? ` · discovered ${utcMinute(issuer.lastDiscoveredAt)}` : ''}`}
        actions={canWrite ? <IssuerActions issuerId={issuer.id} needsAttention={issuer.needsAttention} attentionReason={issuer.attentionReason} /> : null}
      />
      <p className="-mt-4 mb-6 text-sm">
        <Link href={`/health-systems/${id}`} className="underline">
          ← {issuer.healthSystemName}
        </Link>
      </p>
      <div className="space-y-6">
        {issuer.needsAttention ? <Alert tone="warning">Needs attention: {issuer.attentionReason}</Alert> : null}
        {issuer.lastError ? (
          <Alert>
            The last refresh failed ({issuer.lastError.code}): {issuer.lastError.message} The metadata below is from the last successful discovery.
          </Alert>
        ) : null}

        <Card title="Capabilities">
          <div className="flex flex-wrap gap-1" data-testid="capabilities">
            {issuer.capabilities.length === 0 ? <span className="text-sm text-slate-500">None advertised.</span> : null}
            {issuer.capabilities.map((c) => (
              <Badge key={c} tone="info">
                {c}
              </Badge>
            ))}
          </div>
        </Card>

        <Card title="Endpoints">
          <table className="min-w-full text-sm" data-testid="endpoints">
            <thead className="text-left text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1">Endpoint</th>
                <th className="py-1">URL</th>
                <th className="py-1">From</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {Object.entries(issuer.endpoints).map(([name, e]) => (
                <tr key={name}>
                  <td className="py-1.5 pr-3 font-medium">{name}</td>
                  <td className="break-all py-1.5 pr-3 font-mono text-xs">
                    {e.value}
                    {e.conflicts.length ? (
                      <div className="mt-1 text-amber-800">
                        Conflicts:{' '}
                        {e.conflicts.map((c) => (
                          <span key={`${c.source}-${c.value}`} className="block">
                            {c.value} (from {c.source})
                          </span>
                        ))}
                      </div>
                    ) : null}
                  </td>
                  <td className="py-1.5">
                    <Badge>{e.source}</Badge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {!issuer.endpoints.registration ? (
            <p className="mt-3 text-sm text-amber-800">
              No registration endpoint: Registrar cannot register clients here. For Epic, the app’s Epic client ID must be set (below): Epic shows its registration endpoint only to the client it names.
            </p>
          ) : null}
        </Card>

        <Card title="Epic client ID">
          {canWrite ? (
            <EpicClientIdForm issuerId={issuer.id} epicClientId={issuer.epicClientId} />
          ) : (
            <p className="text-sm" data-testid="epic-client-id">
              {issuer.epicClientId ? <span className="font-mono text-xs">{issuer.epicClientId}</span> : <span className="text-slate-500">Not set.</span>}
              <span className="mt-1 block text-xs text-slate-500">Sent as the Epic-Client-ID header during discovery. Ops and admins can change it.</span>
            </p>
          )}
        </Card>

        <div className="grid grid-cols-1 gap-6 lg:grid-cols-2">
          <Card title="Supported">
            <dl className="space-y-3 text-sm">
              <ListRow label="Token endpoint auth methods" values={issuer.tokenEndpointAuthMethodsSupported} />
              <ListRow label="Signing algorithms" values={issuer.tokenEndpointAuthSigningAlgValuesSupported} />
              <ListRow label="Grant types" values={issuer.grantTypesSupported} />
              <ListRow label="Response types" values={issuer.responseTypesSupported} />
              <ListRow label="PKCE methods" values={issuer.codeChallengeMethodsSupported} />
              <ListRow label="Scopes" values={issuer.scopesSupported} mono />
            </dl>
          </Card>
          <Card title="Warnings">
            {issuer.warnings.length === 0 ? <p className="text-sm text-slate-500">None.</p> : null}
            <ul className="space-y-2 text-sm" data-testid="warnings">
              {issuer.warnings.map((w, i) => (
                <li key={`${w.code}-${i}`}>
                  <Badge tone={SEVERITY_TONE[w.severity]}>{w.code}</Badge> <span>{w.message}</span>
                  {w.document ? <span className="text-slate-500"> ({w.document})</span> : null}
                  {/* What to do about it (once per code): the message says what was found, the help what ops can do. */}
                  {helpFor(w.code) && issuer.warnings.findIndex((x) => x.code === w.code) === i ? <span className="mt-0.5 block text-xs text-slate-500">{helpFor(w.code)}</span> : null}
                </li>
              ))}
            </ul>
          </Card>
        </div>

        <Card title="Last discovery: what was tried">
          <ul className="space-y-1 font-mono text-xs">
            {attempts.map((a, i) => (
              <li key={i}>
                <Badge tone={a.outcome === 'found' ? 'good' : a.outcome === 'error' ? 'bad' : 'neutral'}>{a.outcome}</Badge> {a.kind} {a.url} — {a.message}
                {typeof a.durationMs === 'number' ? ` (${Math.round(a.durationMs)} ms)` : ''}
              </li>
            ))}
          </ul>
        </Card>

        <Card title="How documents are merged">
          <table className="min-w-full text-sm">
            <tbody className="divide-y divide-slate-100">
              {describePrecedence().map((p) => (
                <tr key={p.field}>
                  <td className="py-1.5 pr-3 font-medium">{p.field}</td>
                  <td className="py-1.5 pr-3 font-mono text-xs">{p.order.join(' › ')}</td>
                  <td className="py-1.5 text-slate-600">{p.why}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>

        <Card title="Raw documents">
          {Object.keys(documents).length === 0 ? <p className="text-sm text-slate-500">None stored.</p> : null}
          {Object.entries(documents).map(([kind, doc]) => {
            const json = JSON.stringify(doc, null, 2);
            return (
              <details key={kind} className="mb-2 rounded border border-slate-200">
                <summary className="flex cursor-pointer items-center justify-between px-3 py-2 text-sm font-medium">
                  {kind}
                  <CopyButton text={json} label={`Copy ${kind}`} />
                </summary>
                <pre className="max-h-96 overflow-auto bg-slate-50 p-3 text-xs">{json}</pre>
              </details>
            );
          })}
        </Card>

        <Card title="Discovery history">
          <ol className="space-y-3 text-sm" data-testid="history">
            {runs.map((run) => (
              <li key={run.id} className="border-l-2 border-slate-200 pl-3">
                <div className="flex flex-wrap items-center gap-2">
                  <span className="font-mono text-xs">{run.finishedAt.toISOString()}</span>
                  <Badge tone={run.outcome === 'ok' ? 'good' : 'bad'}>{run.outcome}</Badge>
                  <Badge>{run.trigger}</Badge>
                  {run.needsAttention ? <Badge tone="bad">needs attention</Badge> : null}
                  {run.outcome === 'ok' && run.changes.length === 0 && run.trigger !== 'create' ? <span className="text-slate-500">no changes</span> : null}
                </div>
                {run.changes.length ? (
                  <ul className="mt-1 space-y-0.5 font-mono text-xs">
                    {run.changes.map((c, i) => (
                      <li key={i} className={c.attention ? 'text-red-700' : ''}>
                        {c.field}: {JSON.stringify(c.before)} → {JSON.stringify(c.after)}
                      </li>
                    ))}
                  </ul>
                ) : null}
              </li>
            ))}
          </ol>
        </Card>
      </div>
    </>
  );
}

function ListRow({ label, values, mono }: { label: string; values: string[]; mono?: boolean }) {
  return (
    <div>
      <dt className="text-xs uppercase text-slate-500">{label}</dt>
      <dd className={`mt-0.5 ${mono ? 'font-mono text-xs' : ''}`}>{values.length ? values.join(', ') : <span className="text-slate-400">not advertised</span>}</dd>
    </div>
  );
}
