import { utcMinute } from '@/lib/format-time';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { Alert, Badge, Card, PageHeader } from '@/components/ui/card';
import { CopyButton } from '@/components/ui/copy-button';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';
import { isAppError } from '@/lib/errors';
import { getRegistrationManagementView } from '@/lib/registrations/manage/queries';
import { getRegistrationActivity, getRegistrationOrThrow } from '@/lib/registrations/queries';
import { STRATEGY_LABELS } from '@/lib/rotation/plan';
import { getRotationPanel } from '@/lib/rotation/queries';
import { ExpiryBadge } from '../_components/expiry-badge';
import { RevealSecret } from '../_components/reveal-secret';
import { ManagementActions } from './_components/management-actions';
import { MetadataDiffTable } from './_components/metadata-diff-table';
import { RegistrationFindings } from './_components/registration-findings';
import { RotationSection } from './_components/rotation-section';

const STATUS_TONE = { active: 'good', needs_attention: 'warn', management_lost: 'bad', deleted: 'neutral' } as const;

export default async function RegistrationPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<{ created?: string }> }) {
  const { actor } = await requirePageUser('registrations:read');
  const { id } = await params;
  const { created } = await searchParams;
  const reg = await getRegistrationOrThrow(actor, id).catch((error: unknown) => {
    if (isAppError(error) && error.code === 'NOT_FOUND') notFound();
    throw error;
  });
  const manage = await getRegistrationManagementView(actor, id);
  const rotation = await getRotationPanel(actor, id);
  const activity = can(actor.role, 'audit:read') ? await getRegistrationActivity(actor, id) : null;
  const canManage = can(actor.role, 'registrations:write') && manage.manageable;
  const drifted = manage.drift?.filter((d) => d.differs).length ?? 0;
  const currentSecret = reg.credentials.find((c) => c.kind === 'client_secret' && c.state === 'current');
  const hasSecret = currentSecret !== undefined;
  const fields = [...new Set([...Object.keys(reg.requestedMetadata), ...Object.keys(reg.registeredMetadata)])].sort();
  return (
    <>
      <PageHeader
        title={`${reg.appName} at ${reg.healthSystemName}`}
        description={`${reg.environment} · ${reg.issuerUrl ?? ''}`}
        actions={
          <nav aria-label="Related" className="flex flex-wrap gap-3 text-sm">
            <Link href={`/apps/${reg.appId}`} className="underline">
              App profile
            </Link>
            <Link href={`/health-systems/${reg.healthSystemId}/issuers/${reg.issuerId}`} className="underline">
              Issuer
            </Link>
            {can(actor.role, 'diagnostics:run') ? (
              <Link href={`/diagnose?mode=client&client_id=${encodeURIComponent(reg.clientId)}`} className="underline">
                Diagnose this client
              </Link>
            ) : null}
          </nav>
        }
      />
      <div className="space-y-6">
        {manage.status === 'management_lost' ? (
          <div data-testid="management-lost">
            <Alert tone="error">
              <p className="font-semibold">Management access lost</p>
              <p className="mt-1 whitespace-pre-line">{manage.attentionReason ?? 'The hospital refused the registration access token.'}</p>
            </Alert>
          </div>
        ) : null}
        {manage.status === 'deleted' ? (
          <Alert tone="info">
            Deleted at the hospital{manage.deletedAt ? ` on ${manage.deletedAt.slice(0, 16).replace('T', ' ')} UTC` : ''}. Kept here with its history and credentials; it can no longer be managed.
          </Alert>
        ) : null}
        {created ? <Alert tone="success">Registered. The hospital issued the client below{hasSecret ? '; copy the secret now if your deployment needs it (revealing it is audited).' : '.'}</Alert> : null}
        <Card title="Client">
          <dl className="grid grid-cols-1 gap-3 text-sm md:grid-cols-3">
            <div>
              <dt className="text-xs uppercase text-slate-500">client_id</dt>
              <dd className="flex items-center gap-1 font-mono" data-testid="client-id">
                {reg.clientId} <CopyButton text={reg.clientId} />
              </dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Auth method</dt>
              <dd>{reg.authMethod}</dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Secret expiry</dt>
              <dd data-testid="secret-expiry">
                <ExpiryBadge expiry={reg.expiry} />
              </dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">RFC 7592 management</dt>
              <dd data-testid="managed">{reg.managed ? <Badge tone="good">available</Badge> : <Badge tone="warn">not offered by the server</Badge>}</dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Profile version</dt>
              <dd>v{reg.appVersion}</dd>
            </div>
            <div>
              <dt className="text-xs uppercase text-slate-500">Status</dt>
              <dd data-testid="registration-status">
                <Badge tone={STATUS_TONE[manage.status]}>{manage.status}</Badge>
              </dd>
            </div>
          </dl>
          {/* Keyed by the secret's version: a rotation or an edit that issues a new secret drops a revealed (now void) one from the page. */}
          {currentSecret && can(actor.role, 'credentials:reveal') ? <RevealSecret key={`${currentSecret.id}:${currentSecret.version}`} registrationId={reg.id} /> : null}
        </Card>

        <Card title="Rotate credential">
          <RotationSection panel={rotation} strategyLabels={STRATEGY_LABELS} />
        </Card>

        {manage.managed ? (
          <Card title="Hospital’s record (RFC 7592)">
            <div className="space-y-4">
              <p className="text-sm text-slate-600" data-testid="last-checked">
                Last checked at the hospital: {manage.lastCheckedAt ? `${manage.lastCheckedAt.slice(0, 19).replace('T', ' ')} UTC` : 'never'}
                {manage.serverRecordStale ? ' (the registration changed since; refresh to compare again)' : ''}
              </p>
              {canManage ? (
                <ManagementActions
                  registrationId={manage.id}
                  clientId={manage.clientId}
                  hospital={reg.healthSystemName}
                  managementLost={manage.status === 'management_lost'}
                  editable={manage.editable}
                />
              ) : null}
              {manage.drift ? (
                <>
                  <p className="text-sm" data-testid="drift-summary">
                    {drifted ? `${drifted} field(s) differ between Registrar’s record and the hospital’s.` : 'No drift: the hospital’s record matches Registrar’s.'}
                  </p>
                  <MetadataDiffTable
                    testId="drift-table"
                    leftLabel="Registrar’s record"
                    rightLabel="Server’s record"
                    rows={manage.drift.map((d) => ({ field: d.field, left: d.registrar, right: d.server, differs: d.differs }))}
                  />
                </>
              ) : (
                <p className="text-sm text-slate-600">Not read from the hospital yet{canManage ? ': use “Refresh from server” to compare its record with Registrar’s.' : '.'}</p>
              )}
            </div>
          </Card>
        ) : null}

        {reg.warnings.length ? (
          <Card title="Warnings">
            <ul className="space-y-1 text-sm">
              {reg.warnings.map((w, i) => (
                <li key={i}>
                  <Badge tone="warn">{w.code}</Badge> {w.message}
                </li>
              ))}
            </ul>
          </Card>
        ) : null}

        <Card title="Requested vs registered">
          <table className="min-w-full text-sm" data-testid="metadata-diff">
            <thead className="text-left text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1">Field</th>
                <th className="py-1">Requested</th>
                <th className="py-1">Registered (server’s answer)</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {fields.map((f) => {
                const requested = JSON.stringify(reg.requestedMetadata[f]);
                const registered = JSON.stringify(reg.registeredMetadata[f]);
                const differs = f in reg.requestedMetadata && requested !== registered;
                return (
                  <tr key={f} className={differs ? 'bg-amber-50' : ''} data-differs={differs ? 'true' : undefined}>
                    <td className="py-1 pr-3 font-mono text-xs">
                      {f} {differs ? <Badge tone="warn">substituted</Badge> : null}
                    </td>
                    <td className="break-all py-1 pr-3 font-mono text-xs">{requested ?? '—'}</td>
                    <td className="break-all py-1 font-mono text-xs">{registered ?? '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Card>

        <RegistrationFindings
          findings={reg.findings}
          requestedScope={typeof reg.requestedMetadata.scope === 'string' ? reg.requestedMetadata.scope : ''}
          grantedScope={typeof reg.registeredMetadata.scope === 'string' ? reg.registeredMetadata.scope : ''}
        />

        <Card title="Credentials">
          <table className="min-w-full text-sm">
            <thead className="text-left text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1">Kind</th>
                <th className="py-1">Fingerprint</th>
                <th className="py-1">Version</th>
                <th className="py-1">State</th>
                <th className="py-1">Expires</th>
              </tr>
            </thead>
            <tbody>
              {reg.credentials.map((c) => (
                <tr key={c.id}>
                  <td className="py-1">{c.kind}</td>
                  <td className="py-1 font-mono text-xs">{c.fingerprint}</td>
                  <td className="py-1">v{c.version}</td>
                  <td className="py-1">{c.state}</td>
                  <td className="py-1">{utcMinute(c.expiresAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>

        {activity ? (
          <Card title="Activity">
            <ul className="space-y-1 text-sm" data-testid="activity">
              {activity.map((a) => (
                <li key={a.id}>
                  <span className="font-mono text-xs text-slate-500">{utcMinute(a.at)}</span> {a.actorLabel ?? 'anonymous'} ·{' '}
                  <span className="font-mono text-xs">{a.action}</span> <Badge tone={a.outcome === 'success' ? 'good' : 'warn'}>{a.outcome}</Badge>
                </li>
              ))}
            </ul>
          </Card>
        ) : null}
      </div>
    </>
  );
}
