import { z } from 'zod';

export const environmentSchema = z
  .string()
  .trim()
  .min(1, 'Choose an environment.')
  .max(50, 'Keep the environment name under 50 characters.')
  .regex(/^[a-z0-9][a-z0-9 _-]*$/i, 'Use letters, digits, spaces, - or _ for the environment.');

export const addIssuerSchema = z.object({
  healthSystemId: z.uuid(),
  url: z.string().trim().min(1, 'Enter the issuer URL or the FHIR base URL.').max(2000, 'That URL is too long.'),
  environment: environmentSchema,
  epicClientId: z.string().trim().max(200).optional().transform((v) => v || null),
});
export type AddIssuerInput = z.input<typeof addIssuerSchema>;

export const issuerIdSchema = z.object({ issuerId: z.uuid() });
