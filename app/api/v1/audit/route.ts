import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { auditFilterSchema, listAudit } from '@/lib/audit/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.listAudit, async ({ actor, query }) => {
  const filters = auditFilterSchema.parse(query);
  const { rows, total } = await listAudit(actor, filters);
  return jsonResponse({ items: rows, page: filters.page, pageSize: filters.pageSize, total });
});
