import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { diffScopes } from '@/lib/smart';

export const dynamic = 'force-dynamic';

// lib/smart is pure (no actor): the permission (diagnostics:run) is checked by apiRoute.
export const POST = apiRoute(operations.diagnoseScopes, async ({ body }) => jsonResponse(diffScopes({ requested: body.requested, granted: body.granted, supported: body.supported })));
