// Pure (zod only): the API token form and the token-create script share these.
import { z } from 'zod';
import { ROLES } from '@/db/schema';
import { PERMISSIONS } from '@/lib/auth/permissions';

/** What a token looks like: a recognisable prefix and 43 base64url characters (32 random bytes). */
export const API_TOKEN_PATTERN = /^rgt_[A-Za-z0-9_-]{43}$/;

export const createApiTokenSchema = z.object({
  name: z.string().trim().min(1, 'Name the token after what uses it (e.g. “ci-deploy”).').max(100, 'Keep the name under 100 characters.'),
  role: z.enum(ROLES, { message: 'Choose a role.' }),
  /** A subset of the role's permissions; empty or absent means all of them. */
  permissions: z
    .union([z.enum(PERMISSIONS), z.array(z.enum(PERMISSIONS, { message: 'Unknown permission.' }))])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? [...new Set(v)] : [v])),
  /** Days until the token stops working; absent or empty means it never expires. */
  expiresInDays: z
    .union([z.coerce.number().int('Whole days only.').min(1, 'At least one day.').max(3650, 'At most ten years.'), z.literal('').transform(() => undefined)])
    .optional(),
});
export type CreateApiTokenInput = z.input<typeof createApiTokenSchema>;

export const revokeApiTokenSchema = z.object({ id: z.uuid() });
