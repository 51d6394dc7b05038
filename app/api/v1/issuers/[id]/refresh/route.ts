import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { refreshIssuer } from '@/lib/issuers/refresh-issuer';

export const dynamic = 'force-dynamic';

export const POST = apiRoute(operations.refreshIssuer, async ({ actor, params }) => jsonResponse(await refreshIssuer(actor, params.id, { trigger: 'manual' })));
