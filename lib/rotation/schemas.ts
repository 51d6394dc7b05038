import { z } from 'zod';
import { ROTATION_TRIGGERS } from '@/db/schema';

const registrationId = z.uuid();
const rotationId = z.uuid();

export const planRotationSchema = z.object({ registrationId });
export type PlanRotationInput = z.input<typeof planRotationSchema>;

export const startRotationSchema = z.object({
  registrationId,
  trigger: z.enum(ROTATION_TRIGGERS).default('manual'),
  /** Write-only, never stored: for issuers whose registration needs one (Epic, Mercy). */
  initialAccessToken: z.string().trim().max(8000).optional().nullable().transform((v) => v || null),
});
export type StartRotationInput = z.input<typeof startRotationSchema>;

export const rotationIdSchema = z.object({ rotationId });
export type RotationIdInput = z.input<typeof rotationIdSchema>;

export const supplyInitialAccessTokenSchema = z.object({
  rotationId,
  initialAccessToken: z.string().trim().min(1, 'Paste the initial access token.').max(8000),
});
export type SupplyInitialAccessTokenInput = z.input<typeof supplyInitialAccessTokenSchema>;

export const setRotationPolicySchema = z.object({ registrationId, policy: z.enum(['automatic', 'manual']) });
export type SetRotationPolicyInput = z.input<typeof setRotationPolicySchema>;

export const bulkRotationSchema = z.object({ registrationIds: z.array(registrationId).min(1).max(1000) });
export type BulkRotationInput = z.input<typeof bulkRotationSchema>;
