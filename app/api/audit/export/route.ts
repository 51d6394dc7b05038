import { NextResponse, type NextRequest } from 'next/server';
import { exportAuditCsv } from '@/lib/audit/export';
import { auditFilterSchema } from '@/lib/audit/queries';
import { getSessionState } from '@/lib/auth/session';
import { isAppError } from '@/lib/errors';

export const dynamic = 'force-dynamic';

/** CSV of the audit log under the current filter (managers and admins). */
export async function GET(request: NextRequest) {
  const session = await getSessionState();
  if (session.status !== 'signed-in') return NextResponse.json({ code: 'UNAUTHENTICATED', message: 'Sign in first.' }, { status: 401 });
  const filters = auditFilterSchema.parse(Object.fromEntries(request.nextUrl.searchParams.entries()));
  try {
    const stream = await exportAuditCsv(session.actor, filters);
    return new Response(stream, {
      headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="audit-${new Date().toISOString().slice(0, 10)}.csv"`, 'Cache-Control': 'no-store' },
    });
  } catch (error) {
    if (isAppError(error) && error.code === 'FORBIDDEN') return NextResponse.json({ code: 'FORBIDDEN', message: error.message }, { status: 403 });
    throw error;
  }
}
