import { Alert, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';

export default async function DiagnosePage() {
  await requirePageUser('diagnostics:run');
  return (
    <>
      <PageHeader title="Diagnose" />
      <Alert tone="info">Paste an authorization request URL, or a client id and redirect URI, and Registrar compares it character by character with the registered redirect URIs and explains every difference. Not available in this version yet.</Alert>
    </>
  );
}
