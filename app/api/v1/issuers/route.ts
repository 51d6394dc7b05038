import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { addedIssuerView, issuerSummaryView, paginate } from '@/lib/api/views';
import { addIssuer } from '@/lib/issuers/add-issuer';
import { listIssuersForOnboarding } from '@/lib/issuers/queries';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.listIssuers, async ({ actor, query }) => {
  const rows = (await listIssuersForOnboarding(actor)).filter(
    (r) => (!query.healthSystemId || r.healthSystemId === query.healthSystemId) && (!query.environment || r.environment === query.environment),
  );
  return jsonResponse(paginate(rows.map(issuerSummaryView), query.page, query.pageSize));
});

export const POST = apiRoute(operations.addIssuer, async ({ actor, body }) => {
  const added = await addIssuer(actor, body);
  const view = addedIssuerView({ id: added.id, healthSystemId: body.healthSystemId, environment: body.environment.trim(), url: body.url, epicClientId: body.epicClientId?.trim() || null }, added.discovery);
  return jsonResponse(view, 201, { Location: `/api/v1/issuers/${added.id}` });
});
