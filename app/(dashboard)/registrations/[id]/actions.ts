'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { deleteRegistration } from '@/lib/registrations/manage/delete';
import { refreshRegistrationFromServer } from '@/lib/registrations/manage/refresh';
import { deleteRegistrationSchema, refreshRegistrationSchema, syncRegistrationSchema, updateRegistrationSchema } from '@/lib/registrations/manage/schemas';
import { syncRegistrationToProfile } from '@/lib/registrations/manage/sync';
import { updateRegistration } from '@/lib/registrations/manage/update';

const pageOf = (registrationId: string) => `/registrations/${registrationId}`;

/** RFC 7592 read: stores the hospital's record and returns the drift against Registrar's. */
export const refreshRegistrationAction = defineAction({
  name: 'refreshRegistration',
  permission: 'registrations:write',
  schema: refreshRegistrationSchema,
  handler: async (actor, input) => {
    const result = await refreshRegistrationFromServer(actor, input);
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

/** RFC 7592 update (a PUT of the whole record with the changes). */
export const updateRegistrationAction = defineAction({
  name: 'updateRegistration',
  permission: 'registrations:write',
  schema: updateRegistrationSchema,
  handler: async (actor, input) => {
    const result = await updateRegistration(actor, input);
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

/** Without confirm: the diff against the current app profile. With confirm: applies it. */
export const syncRegistrationAction = defineAction({
  name: 'syncRegistration',
  permission: 'registrations:write',
  schema: syncRegistrationSchema,
  handler: async (actor, input) => {
    const result = await syncRegistrationToProfile(actor, input);
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

/** RFC 7592 delete at the hospital; the registration is kept here as `deleted`. */
export const deleteRegistrationAction = defineAction({
  name: 'deleteRegistration',
  permission: 'registrations:write',
  schema: deleteRegistrationSchema,
  handler: async (actor, input) => {
    const result = await deleteRegistration(actor, input);
    revalidatePath(pageOf(input.registrationId));
    revalidatePath('/registrations');
    return result;
  },
});
