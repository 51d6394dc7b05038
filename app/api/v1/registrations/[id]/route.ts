import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { registrationView } from '@/lib/api/views';
import { deleteRegistration } from '@/lib/registrations/manage/delete';
import { updateRegistration } from '@/lib/registrations/manage/update';
import { getRegistrationOrThrow } from '@/lib/registrations/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getRegistration, async ({ actor, params }) =>
  jsonResponse(registrationView(await getRegistrationOrThrow(actor, params.id))),
);

export const PATCH = apiRoute(operations.updateRegistration, async ({ actor, params, body }) => {
  const update = await updateRegistration(actor, { registrationId: params.id, changes: body });
  return jsonResponse({ registration: registrationView(await getRegistrationOrThrow(actor, params.id)), update });
});

export const DELETE = apiRoute(operations.deleteRegistration, async ({ actor, params }) => jsonResponse(await deleteRegistration(actor, { registrationId: params.id })));
