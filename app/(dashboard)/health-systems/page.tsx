import { Alert, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';

export default async function HealthSystemsPage() {
  await requirePageUser('health-systems:read');
  return (
    <>
      <PageHeader title="Health systems" />
      <Alert tone="info">Health systems and their authorization servers, discovered from an issuer or FHIR base URL.</Alert>
    </>
  );
}
