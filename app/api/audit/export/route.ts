import type { NextRequest } from 'next/server';
import { exportAuditCsv } from '@/lib/audit/export';
import { auditFilterSchema } from '@/lib/audit/queries';
import { csvDownload } from '@/lib/http/csv-download';

export const dynamic = 'force-dynamic';

/** CSV of the audit log under the current filter (managers and admins). */
export async function GET(request: NextRequest) {
  const filters = auditFilterSchema.parse(Object.fromEntries(request.nextUrl.searchParams.entries()));
  return csvDownload(request, `audit-${new Date().toISOString().slice(0, 10)}.csv`, (actor) => exportAuditCsv(actor, filters));
}
