import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { paginate } from '@/lib/api/views';
import { createApp } from '@/lib/apps/mutations';
import { listApps } from '@/lib/apps/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.listApps, async ({ actor, query }) => {
  const rows = await listApps(actor);
  return jsonResponse(paginate(rows.map((r) => ({ id: r.id, name: r.name, softwareId: r.softwareId, currentVersion: r.currentVersion, profile: r.profile })), query.page, query.pageSize));
});

export const POST = apiRoute(operations.createApp, async ({ actor, body }) => {
  const created = await createApp(actor, body);
  return jsonResponse(created, 201, { Location: `/api/v1/apps/${created.id}` });
});
