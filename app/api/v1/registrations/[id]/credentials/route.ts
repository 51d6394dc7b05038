import { readRegistrationCredentials } from '@/lib/api/credentials';
import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getRegistrationCredentials, async ({ actor, params }) => jsonResponse(await readRegistrationCredentials(actor, params.id)));
