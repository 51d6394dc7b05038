import 'server-only';
import type { Actor } from '@/lib/auth/actor';
import { getSessionState } from '@/lib/auth/session';
import { isAppError } from '@/lib/errors';
import { isCrossSiteRequest } from './cross-site';

/**
 * A CSV download for the signed-in person (the registrations table, the audit log): refused when
 * another site asked for it (isCrossSiteRequest), 401 signed out, 403 for a role without it (the
 * domain function audits the denial), 429 while every export connection is busy; otherwise the
 * stream, as an attachment named `filename`.
 */
export async function csvDownload(request: Request, filename: string, produce: (actor: Actor) => Promise<ReadableStream<Uint8Array>>): Promise<Response> {
  if (isCrossSiteRequest(request.headers)) return Response.json({ code: 'FORBIDDEN', message: 'Open the export from Registrar itself.' }, { status: 403 });
  const session = await getSessionState();
  if (session.status !== 'signed-in') return Response.json({ code: 'UNAUTHENTICATED', message: 'Sign in first.' }, { status: 401 });
  try {
    const stream = await produce(session.actor);
    return new Response(stream, {
      headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${filename}"`, 'Cache-Control': 'no-store' },
    });
  } catch (error) {
    if (isAppError(error) && error.code === 'FORBIDDEN') return Response.json({ code: 'FORBIDDEN', message: error.message }, { status: 403 });
    if (isAppError(error) && error.code === 'RATE_LIMITED') return Response.json({ code: 'RATE_LIMITED', message: error.message }, { status: 429, headers: { 'Retry-After': '30' } });
    throw error;
  }
}
