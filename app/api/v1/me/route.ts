import { permissionsOf } from '@/lib/auth/permissions';
import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { getDb } from '@/db/client';
import { apiTokens } from '@/db/schema';
import { eq } from 'drizzle-orm';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(operations.getMe, async ({ actor }) => {
  const [token] = await getDb().select({ name: apiTokens.name, prefix: apiTokens.prefix, expiresAt: apiTokens.expiresAt }).from(apiTokens).where(eq(apiTokens.id, actor.id));
  const permissions = permissionsOf(actor.role).filter((p) => actor.permissions === null || actor.permissions.includes(p));
  return jsonResponse({ id: actor.id, name: token?.name ?? actor.label, prefix: token?.prefix ?? '', role: actor.role, permissions, expiresAt: token?.expiresAt ?? null });
});
