import { NextResponse, type NextRequest } from 'next/server';

const SESSION_COOKIES = ['next-auth.session-token', '__Secure-next-auth.session-token', 'next-auth.csrf-token', '__Host-next-auth.csrf-token'];

/** Clears a session whose user was deactivated, then sends them to sign-in with the reason. */
export async function GET(request: NextRequest) {
  const reason = request.nextUrl.searchParams.get('reason') === 'deactivated' ? 'deactivated' : 'signed-out';
  const response = NextResponse.redirect(new URL(`/signin?reason=${reason}`, request.url));
  for (const name of SESSION_COOKIES) response.cookies.set(name, '', { maxAge: 0, path: '/' });
  return response;
}
