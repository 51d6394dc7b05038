import { NextResponse, type NextRequest } from 'next/server';
import { getSessionState } from '@/lib/auth/session';
import { isAppError } from '@/lib/errors';
import { exportRegistrationsCsv } from '@/lib/registrations/export';
import { parseTableParams } from '@/lib/registrations/table';

export const dynamic = 'force-dynamic';

/** CSV of the registrations table under the current filter (managers and admins). */
export async function GET(request: NextRequest) {
  const session = await getSessionState();
  if (session.status !== 'signed-in') return NextResponse.json({ code: 'UNAUTHENTICATED', message: 'Sign in first.' }, { status: 401 });
  const params = parseTableParams(Object.fromEntries(request.nextUrl.searchParams.entries()));
  try {
    const stream = await exportRegistrationsCsv(session.actor, params);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    return new Response(stream, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="registrations-${stamp}.csv"`,
        'Cache-Control': 'no-store',
      },
    });
  } catch (error) {
    if (isAppError(error) && error.code === 'FORBIDDEN') return NextResponse.json({ code: 'FORBIDDEN', message: error.message }, { status: 403 });
    throw error;
  }
}
