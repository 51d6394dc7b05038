import { PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { AppProfileForm } from '../_components/app-profile-form';

export default async function NewAppPage() {
  await requirePageUser('registrations:write');
  return (
    <>
      <PageHeader title="New app" description="The metadata here is what Registrar sends when it registers this app at a hospital." />
      <AppProfileForm />
    </>
  );
}
