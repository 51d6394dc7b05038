import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { updateApp } from '@/lib/apps/mutations';
import { getAppOrThrow } from '@/lib/apps/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getApp, async ({ actor, params }) => {
  const app = await getAppOrThrow(actor, params.id);
  return jsonResponse({ id: app.id, name: app.name, softwareId: app.softwareId, currentVersion: app.currentVersion, profile: app.profile });
});

export const PUT = apiRoute(operations.updateApp, async ({ actor, params, body }) =>
  jsonResponse(await updateApp(actor, { appId: params.id, expectedVersion: body.expectedVersion, profile: body.profile })),
);
