import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { healthSystemView } from '@/lib/api/views';
import { getHealthSystemOrThrow } from '@/lib/health-systems/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getHealthSystem, async ({ actor, params }) => jsonResponse(healthSystemView(await getHealthSystemOrThrow(actor, params.id))));
