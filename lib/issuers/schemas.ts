import { z } from 'zod';

export const environmentSchema = z
  .string()
  .trim()
  .min(1, 'Choose an environment.')
  .max(50, 'Keep the environment name under 50 characters.')
  .regex(/^[a-z0-9][a-z0-9 _-]*$/i, 'Use letters, digits, spaces, - or _ for the environment.');

/**
 * The app's Epic client id, sent as Epic-Client-ID during discovery (Epic advertises `register` only
 * to callers naming their client). Trimmed: Epic's own samples carry stray spaces. Empty means none.
 */
const epicClientIdValue = z.string().trim().max(200, 'Keep the Epic client ID to 200 characters or fewer.');

export const addIssuerSchema = z.object({
  healthSystemId: z.uuid(),
  url: z.string().trim().min(1, 'Enter the issuer URL or the FHIR base URL.').max(2000, 'That URL is too long.'),
  environment: environmentSchema,
  epicClientId: epicClientIdValue.optional().transform((v) => v || null),
});
export type AddIssuerInput = z.input<typeof addIssuerSchema>;

export const issuerIdSchema = z.object({ issuerId: z.uuid() });

/**
 * Accepting a held change: `seenReason` is the change as the page showed it (the issuer's attention
 * reason), so a newer discovery that published something else is not accepted in its place.
 */
export const acceptIssuerChangeSchema = issuerIdSchema.extend({ seenReason: z.string().max(8000).nullable().optional() });

/** Sets, replaces or (empty or null) removes an issuer's Epic client id; the key is required so that leaving it out never clears it. */
export const setIssuerEpicClientIdSchema = z.object({
  issuerId: z.uuid(),
  epicClientId: epicClientIdValue.nullable().transform((v) => v || null),
});
export type SetIssuerEpicClientIdInput = z.input<typeof setIssuerEpicClientIdSchema>;
