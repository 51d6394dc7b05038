import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { syncRegistrationToProfile } from '@/lib/registrations/manage/sync';

export const dynamic = 'force-dynamic';

export const POST = apiRoute(operations.syncRegistration, async ({ actor, params, body }) =>
  jsonResponse(await syncRegistrationToProfile(actor, { registrationId: params.id, confirm: body.confirm ?? false, appVersion: body.appVersion, overrides: body.overrides })),
);
