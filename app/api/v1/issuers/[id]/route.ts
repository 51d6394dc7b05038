import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { issuerView } from '@/lib/api/views';
import { getIssuerOrThrow } from '@/lib/issuers/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getIssuer, async ({ actor, params }) => jsonResponse(issuerView(await getIssuerOrThrow(actor, params.id))));
