import { PageHeader } from '@/components/ui/card';
import { listApps } from '@/lib/apps/queries';
import { requirePageUser } from '@/lib/auth/page-guard';
import { listIssuersForOnboarding } from '@/lib/issuers/queries';
import { OnboardingWizard } from '../_components/onboarding-wizard';

export default async function NewRegistrationPage() {
  const { actor } = await requirePageUser('registrations:write');
  const [issuers, apps] = await Promise.all([listIssuersForOnboarding(actor), listApps(actor)]);
  return (
    <>
      <PageHeader title="Onboard a hospital" description="Register one of your apps at a hospital's authorization server (RFC 7591). Nothing is sent until you press Register." />
      <OnboardingWizard
        issuers={issuers}
        apps={apps.map((a) => ({ id: a.id, name: a.name, version: a.currentVersion, environments: Object.keys(a.profile.environments) }))}
      />
    </>
  );
}
