'use server';

import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { defineAction } from '@/lib/actions/define-action';
import { revealRegistrationSecret } from '@/lib/credentials/reveal';
import { previewRegistration } from '@/lib/registrations/preview';
import { registerApp } from '@/lib/registrations/register';
import { previewSchema, registerSchema } from '@/lib/registrations/schemas';

export const previewRegistrationAction = defineAction({
  name: 'previewRegistration',
  permission: 'registrations:write',
  schema: previewSchema,
  handler: (actor, input) => previewRegistration(actor, input),
});

/** Returns ids only: the secret is never part of this result (see revealSecretAction). */
export const registerAction = defineAction({
  name: 'registerApp',
  permission: 'registrations:write',
  schema: registerSchema,
  handler: async (actor, input) => {
    const result = await registerApp(actor, input);
    revalidatePath('/registrations');
    return result;
  },
});

/** The audited reveal path (ops and admins). */
export const revealSecretAction = defineAction({
  name: 'revealSecret',
  permission: 'credentials:reveal',
  schema: z.object({ registrationId: z.uuid(), kind: z.enum(['client_secret', 'registration_access_token']) }),
  handler: (actor, input) => revealRegistrationSecret(actor, input),
});
