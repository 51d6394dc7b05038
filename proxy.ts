import { NextResponse, type NextRequest } from 'next/server';
import { REQUEST_PATH_HEADER } from '@/lib/auth/return-to';

/**
 * Tells pages which path was requested (server components cannot read it otherwise), so a page
 * that sends a signed-out user to sign-in can bring them back to it afterwards. Any value a client
 * sent in this header is replaced. Authorisation is not done here: every page, action and route
 * checks the session itself.
 */
export function proxy(request: NextRequest) {
  const headers = new Headers(request.headers);
  headers.set(REQUEST_PATH_HEADER, `${request.nextUrl.pathname}${request.nextUrl.search}`);
  return NextResponse.next({ request: { headers } });
}

export const config = {
  // Pages only: not the API, Next.js's own files or static assets.
  matcher: ['/((?!api/|_next/|favicon\\.ico|.*\\.(?:svg|png|jpg|ico|css|js|map)$).*)'],
};
