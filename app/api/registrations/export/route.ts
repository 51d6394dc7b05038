import type { NextRequest } from 'next/server';
import { csvDownload } from '@/lib/http/csv-download';
import { exportRegistrationsCsv } from '@/lib/registrations/export';
import { parseTableParams } from '@/lib/registrations/table';

export const dynamic = 'force-dynamic';

/** CSV of the registrations table under the current filter (managers and admins). */
export async function GET(request: NextRequest) {
  const params = parseTableParams(Object.fromEntries(request.nextUrl.searchParams.entries()));
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  return csvDownload(request, `registrations-${stamp}.csv`, (actor) => exportRegistrationsCsv(actor, params));
}
