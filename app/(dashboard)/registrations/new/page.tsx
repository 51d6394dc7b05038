import { PageHeader } from '@/components/ui/card';
import { listApps } from '@/lib/apps/queries';
import { requirePageUser } from '@/lib/auth/page-guard';
import { listHealthSystems } from '@/lib/health-systems/queries';
import { listIssuersForOnboarding } from '@/lib/issuers/queries';
import { OnboardingWizard } from '../_components/onboarding-wizard';

export default async function NewRegistrationPage() {
  const { actor } = await requirePageUser('registrations:write');
  // Every health system, not only those with an issuer: the wizard adds a first issuer too.
  const [issuers, apps, healthSystems] = await Promise.all([listIssuersForOnboarding(actor), listApps(actor), listHealthSystems(actor)]);
  return (
    <>
      <PageHeader title="Onboard a hospital" description="Register one of your apps at a hospital's authorization server (RFC 7591). Nothing is sent until you press Register." />
      <OnboardingWizard
        issuers={issuers}
        apps={apps.map((a) => ({ id: a.id, name: a.name, version: a.currentVersion, environments: Object.keys(a.profile.environments) }))}
        healthSystems={healthSystems.map((s) => ({ id: s.id, name: s.name }))}
      />
    </>
  );
}
