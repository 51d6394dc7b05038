import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { healthSystemSummaryView, paginate } from '@/lib/api/views';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { listHealthSystems } from '@/lib/health-systems/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.listHealthSystems, async ({ actor, query }) => {
  const rows = await listHealthSystems(actor);
  return jsonResponse(paginate(rows.map(healthSystemSummaryView), query.page, query.pageSize));
});

export const POST = apiRoute(operations.createHealthSystem, async ({ actor, body }) => {
  const created = await createHealthSystem(actor, body);
  return jsonResponse(created, 201, { Location: `/api/v1/health-systems/${created.id}` });
});
