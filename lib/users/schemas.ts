import { z } from 'zod';
import { ROLES } from '@/db/schema';

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ message: 'Enter a valid email address.' }));

export const roleSchema = z.enum(ROLES, { message: 'Choose one of admin, ops, manager, support.' });

export const createUserSchema = z.object({
  email: emailSchema,
  name: z.string().trim().max(200).optional().transform((v) => v || undefined),
  role: roleSchema,
});
export type CreateUserInput = z.input<typeof createUserSchema>;

export const changeRoleSchema = z.object({ userId: z.uuid(), role: roleSchema });
export const userIdSchema = z.object({ userId: z.uuid() });
export const setUserActiveSchema = userIdSchema.extend({ active: z.boolean() });
