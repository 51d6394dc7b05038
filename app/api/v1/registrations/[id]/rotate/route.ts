import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { startRotation } from '@/lib/rotation';

export const dynamic = 'force-dynamic';

export const POST = apiRoute(operations.rotateRegistration, async ({ actor, params, body }) => {
  const rotation = await startRotation(actor, { registrationId: params.id, trigger: 'manual', initialAccessToken: body.initialAccessToken ?? null });
  return jsonResponse(rotation, rotation.joined ? 200 : 201);
});
