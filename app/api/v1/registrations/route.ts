import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { registrationRowView, registrationView } from '@/lib/api/views';
import { getRegistrationOrThrow } from '@/lib/registrations/queries';
import { registerApp } from '@/lib/registrations/register';
import { queryRegistrationsTable, registrationTableSchema } from '@/lib/registrations/table';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.listRegistrations, async ({ actor, query }) => {
  // Validated strictly above; the table's own schema then yields exactly the page's parameters.
  const params = registrationTableSchema.parse(query);
  const { rows, total } = await queryRegistrationsTable(actor, params);
  return jsonResponse({ items: rows.map(registrationRowView), page: params.page, pageSize: params.pageSize, total });
});

export const POST = apiRoute(operations.registerApp, async ({ actor, body, headers }) => {
  const result = await registerApp(actor, { ...body, idempotencyKey: headers['Idempotency-Key']! });
  const view = registrationView(await getRegistrationOrThrow(actor, result.registrationId));
  return result.replayed
    ? jsonResponse(view, 200, { 'Idempotent-Replayed': 'true' })
    : jsonResponse(view, 201, { Location: `/api/v1/registrations/${result.registrationId}` });
});
