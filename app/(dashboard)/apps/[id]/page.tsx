import { notFound } from 'next/navigation';
import { Card, PageHeader } from '@/components/ui/card';
import { getAppOrThrow, listAppVersions, publishedKeyCounts, type PublishedKeyPurpose } from '@/lib/apps/queries';
import { listUdapCertificates } from '@/lib/apps/udap';
import { requirePageUser } from '@/lib/auth/page-guard';
import { can } from '@/lib/auth/permissions';
import { isAppError } from '@/lib/errors';
import { AppProfileForm } from '../_components/app-profile-form';
import { publishedJwksUrl } from '@/lib/registrations/hosted-jwks';
import { PublishedKeys } from '../_components/published-keys';
import { UdapCertificates } from '../_components/udap-certificates';

export default async function AppPage({ params }: { params: Promise<{ id: string }> }) {
  const { actor } = await requirePageUser('registrations:read');
  const { id } = await params;
  const app = await getAppOrThrow(actor, id).catch((error: unknown) => {
    if (isAppError(error) && error.code === 'NOT_FOUND') notFound();
    throw error;
  });
  const [versions, certificates, keyCounts] = await Promise.all([listAppVersions(actor, id), listUdapCertificates(actor, id), publishedKeyCounts(actor, id)]);
  const canWrite = can(actor.role, 'registrations:write');
  const purposes: PublishedKeyPurpose[] = ['client_auth', 'software_statement'];
  const keyRows = Object.keys(app.profile.environments).flatMap((environment) =>
    purposes.map((purpose) => ({
      environment,
      purpose,
      url: publishedJwksUrl(app.id, environment, purpose),
      count: keyCounts.find((k) => k.environment === environment && k.purpose === purpose)?.count ?? 0,
    })),
  );
  return (
    <>
      <PageHeader title={app.name} description={`software_id ${app.softwareId} · version ${app.currentVersion}`} />
      <div className="space-y-6">
        {canWrite ? (
          <AppProfileForm appId={app.id} version={app.currentVersion} initial={app.profile} />
        ) : (
          <Card title="Profile">
            <pre className="overflow-auto bg-slate-50 p-3 text-xs">{JSON.stringify(app.profile, null, 2)}</pre>
          </Card>
        )}
        <PublishedKeys rows={keyRows} />
        <UdapCertificates appId={app.id} environments={Object.keys(app.profile.environments)} certificates={certificates} canWrite={canWrite} />
        <Card title="Versions">
          <ul className="text-sm">
            {versions.map((v) => (
              <li key={v.version}>
                v{v.version} · {v.createdAt.toISOString()} · {v.createdBy}
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </>
  );
}
