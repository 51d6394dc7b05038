import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { refreshRegistrationFromServer } from '@/lib/registrations/manage/refresh';

export const dynamic = 'force-dynamic';

export const POST = apiRoute(operations.refreshRegistration, async ({ actor, params }) => jsonResponse(await refreshRegistrationFromServer(actor, { registrationId: params.id })));
