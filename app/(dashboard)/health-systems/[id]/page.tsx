import Link from 'next/link';
import { notFound } from 'next/navigation';
import { Badge, Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';
import { isAppError } from '@/lib/errors';
import { getHealthSystemOrThrow } from '@/lib/health-systems/queries';
import { AddIssuerForm } from '../_components/add-issuer-form';
import { CreateHealthSystemForm } from '../_components/create-health-system-form';
import { WarningBadges } from '../_components/warning-badges';

export default async function HealthSystemPage({ params }: { params: Promise<{ id: string }> }) {
  const { actor } = await requirePageUser('health-systems:read');
  const { id } = await params;
  const system = await getHealthSystemOrThrow(actor, id).catch((error: unknown) => {
    if (isAppError(error) && error.code === 'NOT_FOUND') notFound();
    throw error;
  });
  const canWrite = can(actor.role, 'health-systems:write');
  return (
    <>
      <PageHeader title={system.name} description={system.notes ?? undefined} />
      <div className="space-y-6">
        <Card title="Authorization servers">
          {system.issuers.length === 0 ? <p className="text-sm text-slate-500">No issuers yet.</p> : null}
          <ul className="divide-y divide-slate-100">
            {system.issuers.map((issuer) => (
              <li key={issuer.id} className="flex flex-wrap items-start justify-between gap-3 py-3">
                <div className="min-w-0">
                  <Link href={`/health-systems/${system.id}/issuers/${issuer.id}`} className="font-mono text-sm font-medium underline-offset-2 hover:underline">
                    {issuer.issuerUrl ?? issuer.inputUrl}
                  </Link>
                  <div className="mt-1 flex flex-wrap gap-1">
                    <Badge tone="info">{issuer.environment}</Badge>
                    {issuer.hasRegistration ? <Badge tone="good">dynamic registration</Badge> : <Badge tone="warn">no registration endpoint</Badge>}
                    {issuer.needsAttention ? <Badge tone="bad">needs attention</Badge> : null}
                    {issuer.lastError ? <Badge tone="bad">last refresh failed: {issuer.lastError.code}</Badge> : null}
                  </div>
                </div>
                <WarningBadges warnings={issuer.warnings} />
              </li>
            ))}
          </ul>
        </Card>
        {canWrite ? (
          <Card title="Add an issuer">
            <AddIssuerForm healthSystemId={system.id} />
          </Card>
        ) : null}
        {canWrite ? (
          <Card title="Details">
            <CreateHealthSystemForm initial={{ id: system.id, name: system.name, notes: system.notes, tags: system.tags, contacts: system.contacts }} />
          </Card>
        ) : (
          <Card title="Contacts">
            {system.contacts.length === 0 ? <p className="text-sm text-slate-500">None recorded.</p> : null}
            <ul className="text-sm">
              {system.contacts.map((c, i) => (
                <li key={i}>{[c.name, c.email, c.role].filter(Boolean).join(' · ')}</li>
              ))}
            </ul>
          </Card>
        )}
      </div>
    </>
  );
}
