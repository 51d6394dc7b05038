'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { retryNotificationDelivery, sendTestNotification } from '@/lib/notifications/queries';
import { deliveryIdSchema, webhookSettingsSchema } from '@/lib/notifications/schemas';
import { setWebhookSettings } from '@/lib/notifications/settings';
import { z } from 'zod';

const PAGE = '/settings/notifications';

export const saveWebhookAction = defineAction({
  name: 'saveWebhook',
  permission: 'settings:manage',
  schema: webhookSettingsSchema,
  handler: async (actor, input) => {
    const result = await setWebhookSettings(actor, input);
    revalidatePath(PAGE);
    return result;
  },
});

export const sendTestNotificationAction = defineAction({
  name: 'sendTestNotification',
  permission: 'settings:manage',
  schema: z.object({}),
  handler: async (actor) => {
    const result = await sendTestNotification(actor);
    revalidatePath(PAGE);
    return result;
  },
});

export const retryDeliveryAction = defineAction({
  name: 'retryDelivery',
  permission: 'settings:manage',
  schema: deliveryIdSchema,
  handler: async (actor, input) => {
    const result = await retryNotificationDelivery(actor, input);
    revalidatePath(PAGE);
    return result;
  },
});
