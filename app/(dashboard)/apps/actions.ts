'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { createApp, updateApp } from '@/lib/apps/mutations';
import { appProfileSchema, updateAppSchema } from '@/lib/apps/schemas';
import { uploadUdapCertificate, uploadUdapCertificateSchema } from '@/lib/apps/udap';

export const createAppAction = defineAction({
  name: 'createApp',
  permission: 'registrations:write',
  schema: appProfileSchema,
  handler: async (actor, input) => {
    const result = await createApp(actor, input);
    revalidatePath('/apps');
    return result;
  },
});

export const updateAppAction = defineAction({
  name: 'updateApp',
  permission: 'registrations:write',
  schema: updateAppSchema,
  handler: async (actor, input) => {
    const result = await updateApp(actor, input);
    revalidatePath(`/apps/${input.appId}`);
    return result;
  },
});

/**
 * Takes the PEM chain and private key once; returns the certificate's description only (subject,
 * SAN, validity, fingerprint). The key goes into the vault and is never returned.
 */
export const uploadUdapCertificateAction = defineAction({
  name: 'uploadUdapCertificate',
  permission: 'registrations:write',
  schema: uploadUdapCertificateSchema,
  handler: async (actor, input) => {
    const result = await uploadUdapCertificate(actor, input);
    revalidatePath(`/apps/${input.appId}`);
    return result;
  },
});
