import { problemResponse } from '@/lib/api/problem';

export const dynamic = 'force-dynamic';

/** Anything under /api/v1 that is not an operation: a problem+json 404, not the app's HTML page. */
function notFound(request: Request): Response {
  const path = new URL(request.url).pathname;
  return problemResponse({ code: 'NOT_FOUND', detail: `There is no ${request.method} ${path} in this API; see /api/v1/openapi.json.`, instance: path });
}

export const GET = notFound;
export const POST = notFound;
export const PUT = notFound;
export const PATCH = notFound;
export const DELETE = notFound;
