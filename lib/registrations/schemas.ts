import { z } from 'zod';
import { TOKEN_AUTH_METHODS } from '@/db/schema';

const lines = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? v.split('\n') : v).map((s) => s.replace(/\r$/, '')).filter((s) => s.trim() !== ''));

export const registrationOverridesSchema = z
  .object({
    clientName: z.string().trim().min(1).max(200).optional(),
    redirectUris: lines.optional(),
    grantTypes: lines.optional(),
    responseTypes: lines.optional(),
    tokenEndpointAuthMethod: z.enum(TOKEN_AUTH_METHODS).optional(),
    scope: z.string().max(4000).optional(),
    keyAlgorithm: z.enum(['RS384', 'ES384']).optional(),
  })
  .strict();

export const registerSchema = z.object({
  issuerId: z.uuid(),
  appId: z.uuid(),
  environment: z.string().trim().min(1),
  overrides: registrationOverridesSchema.optional(),
  /** Write-only: sent once as a bearer token, never stored. */
  initialAccessToken: z.string().trim().max(8000).optional().nullable().transform((v) => v || null),
  /** A software statement supplied as is (RFC 7591 §2.3), or `sign` to have Registrar sign one. */
  softwareStatement: z.union([z.literal('sign'), z.string().regex(/^[\w-]+\.[\w-]+\.[\w-]+$/, 'A software statement is a signed JWT (three dot-separated parts).')]).optional().nullable(),
  idempotencyKey: z.string().min(16, 'Missing idempotency key.').max(200),
});
export type RegisterInput = z.input<typeof registerSchema>;

export const previewSchema = z.object({ issuerId: z.uuid(), appId: z.uuid(), environment: z.string().trim().min(1), overrides: registrationOverridesSchema.optional() });
export type PreviewInput = z.input<typeof previewSchema>;
