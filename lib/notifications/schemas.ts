import { z } from 'zod';

export const webhookSettingsSchema = z.object({
  /** Slack-compatible incoming webhook (JSON with a `text` field). Empty keeps the stored one (it is write-only). */
  url: z
    .string()
    .trim()
    .max(2000)
    .refine((v) => v === '' || /^https?:\/\//i.test(v), 'The webhook URL must start with https:// (or http:// for an allowlisted host).')
    .refine((v) => v === '' || URL.canParse(v), 'That is not a valid URL.'),
  enabled: z
    .union([z.boolean(), z.literal('on'), z.literal('true'), z.literal('false')])
    .optional()
    .transform((v) => v === true || v === 'on' || v === 'true'),
  /** Removes the webhook. */
  clear: z.boolean().optional(),
});
export type WebhookSettingsInput = z.input<typeof webhookSettingsSchema>;

export const deliveryIdSchema = z.object({ id: z.uuid() });
export type DeliveryIdInput = z.input<typeof deliveryIdSchema>;
