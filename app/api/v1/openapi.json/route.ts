import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { buildOpenApiDocument } from '@/lib/api/openapi';
import { operations } from '@/lib/api/operations';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getOpenApi, async () => jsonResponse(buildOpenApiDocument(), 200, { 'Cache-Control': 'public, max-age=300' }));
