'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { createApp, updateApp } from '@/lib/apps/mutations';
import { appProfileSchema, updateAppSchema } from '@/lib/apps/schemas';

export const createAppAction = defineAction({
  name: 'createApp',
  permission: 'registrations:write',
  schema: appProfileSchema,
  handler: async (actor, input) => {
    const result = await createApp(actor, input);
    revalidatePath('/apps');
    return result;
  },
});

export const updateAppAction = defineAction({
  name: 'updateApp',
  permission: 'registrations:write',
  schema: updateAppSchema,
  handler: async (actor, input) => {
    const result = await updateApp(actor, input);
    revalidatePath(`/apps/${input.appId}`);
    return result;
  },
});
