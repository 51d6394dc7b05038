import { Alert, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';

export default async function RegistrationsPage() {
  await requirePageUser('registrations:read');
  return (
    <>
      <PageHeader title="Registrations" />
      <Alert tone="info">The table of every client registration across health systems: client id, auth method, status, secret expiry, scope and redirect-URI findings, with filters, sorting and CSV export. It is built on the registration records that onboarding creates, which are not part of this version yet.</Alert>
    </>
  );
}
