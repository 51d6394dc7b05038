import { NextResponse, type NextRequest } from 'next/server';
import { safeReturnPath } from '@/lib/auth/return-to';

const SESSION_COOKIES = ['next-auth.session-token', '__Secure-next-auth.session-token', 'next-auth.csrf-token', '__Host-next-auth.csrf-token'];

/** Clears a session that no longer counts (user deactivated, sessions ended), then sends them to sign-in with the reason. */
export async function GET(request: NextRequest) {
  const asked = request.nextUrl.searchParams.get('reason');
  const reason = asked === 'deactivated' || asked === 'session-ended' ? asked : 'signed-out';
  const back = safeReturnPath(request.nextUrl.searchParams.get('callbackUrl'));
  const response = NextResponse.redirect(new URL(`/signin?reason=${reason}${back ? `&callbackUrl=${encodeURIComponent(back)}` : ''}`, request.url));
  // Browsers ignore a Set-Cookie for a __Secure-/__Host- cookie without Secure: it would not be cleared.
  for (const name of SESSION_COOKIES) response.cookies.set(name, '', { maxAge: 0, path: '/', ...(name.startsWith('__') ? { secure: true } : {}) });
  return response;
}
