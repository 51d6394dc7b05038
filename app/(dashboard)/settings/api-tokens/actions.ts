'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { createApiTokenSchema, revokeApiTokenSchema } from '@/lib/api/token-schemas';
import { createApiToken, revokeApiToken } from '@/lib/api/tokens';

export const createApiTokenAction = defineAction({
  name: 'createApiToken',
  permission: 'users:manage',
  schema: createApiTokenSchema,
  handler: async (actor, input) => {
    const created = await createApiToken(actor, input);
    revalidatePath('/settings/api-tokens');
    // The token goes to the browser once, for the admin to copy; it is stored only as a hash.
    return { id: created.id, name: created.name, token: created.token };
  },
});

export const revokeApiTokenAction = defineAction({
  name: 'revokeApiToken',
  permission: 'users:manage',
  schema: revokeApiTokenSchema,
  handler: async (actor, input) => {
    const revoked = await revokeApiToken(actor, input);
    revalidatePath('/settings/api-tokens');
    return { id: revoked.id };
  },
});
