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
  /**
   * A software statement supplied as is (RFC 7591 §2.3), `sign` to have Registrar sign one, or
   * `udap` to register with a UDAP statement signed by the app's client certificate.
   */
  softwareStatement: z.union([z.literal('sign'), z.literal('udap'), z.string().regex(/^[\w-]+\.[\w-]+\.[\w-]+$/, 'A software statement is a signed JWT (three dot-separated parts).')]).optional().nullable(),
  idempotencyKey: z.string().min(16, 'Missing idempotency key.').max(200),
  /**
   * The issuer and app versions the person's review was built from (previewRegistration's
   * `reviewedVersions`): when either changed since, what would be sent is no longer what they
   * reviewed, and the registration is refused before anything is written or sent.
   */
  reviewedVersions: z.object({ issuer: z.string().max(64), app: z.string().max(64) }).optional(),
});
export type RegisterInput = z.input<typeof registerSchema>;

export const previewSchema = z.object({ issuerId: z.uuid(), appId: z.uuid(), environment: z.string().trim().min(1), overrides: registrationOverridesSchema.optional() });
export type PreviewInput = z.input<typeof previewSchema>;

/** A person's finding at the hospital for an operation whose outcome Registrar cannot know. */
export const operationResolutionSchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('not_registered') }),
  z.object({
    outcome: z.literal('registered'),
    clientId: z.string().trim().min(1, 'Enter the client id the hospital shows.').max(500),
  }),
]);

/** A person's optional note on an operation (where they looked, what the hospital did): blank is none. */
const operationNote = z
  .string()
  .trim()
  .max(2000)
  .optional()
  .nullable()
  .transform((v) => v || null);

export const reconcileOperationSchema = z.object({
  operationId: z.uuid(),
  resolution: operationResolutionSchema.optional(),
  note: operationNote,
});
export type ReconcileOperationInput = z.input<typeof reconcileOperationSchema>;

export const closeOperationSchema = z.object({ operationId: z.uuid(), note: operationNote });
export type CloseOperationInput = z.input<typeof closeOperationSchema>;
