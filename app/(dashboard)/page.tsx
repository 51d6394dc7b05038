import { Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { ROLE_DESCRIPTIONS } from '@/lib/auth/permissions';

export default async function OverviewPage() {
  const { actor } = await requirePageUser();
  return (
    <>
      <PageHeader title="Overview" description={`Signed in as ${actor.role}: ${ROLE_DESCRIPTIONS[actor.role]}`} />
      <Card title="Coming in this view">
        <p className="text-sm text-slate-600">
          Counts of registrations by state, credentials expiring in the next 7, 30 and 90 days, a 180-day expiry forecast, the
          needs-attention list and recent activity. They appear here once registrations are recorded; nothing is shown until then.
        </p>
      </Card>
    </>
  );
}
