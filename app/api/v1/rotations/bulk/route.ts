import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { startBulkRotation } from '@/lib/rotation/bulk';

export const dynamic = 'force-dynamic';

export const POST = apiRoute(operations.startBulkRotation, async ({ actor, body }) => jsonResponse(await startBulkRotation(actor, body), 202));
