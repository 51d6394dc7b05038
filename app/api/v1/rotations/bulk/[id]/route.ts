import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { bulkRotationProgress } from '@/lib/rotation/bulk';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getBulkRotation, async ({ actor, params }) => jsonResponse(await bulkRotationProgress(actor, { bulkId: params.id })));
