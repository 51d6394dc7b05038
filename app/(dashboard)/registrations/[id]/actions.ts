'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { deleteRegistration } from '@/lib/registrations/manage/delete';
import { refreshRegistrationFromServer } from '@/lib/registrations/manage/refresh';
import { deleteRegistrationSchema, refreshRegistrationSchema, syncRegistrationSchema, updateRegistrationSchema } from '@/lib/registrations/manage/schemas';
import { syncRegistrationToProfile } from '@/lib/registrations/manage/sync';
import { updateRegistration } from '@/lib/registrations/manage/update';
import { setRotationPolicy } from '@/lib/rotation/policy';
import { abandonRotation, confirmRotationVerified, retryRotation, startRotation, supplyInitialAccessToken } from '@/lib/rotation/run';
import { rotationIdSchema, setRotationPolicySchema, startRotationSchema, supplyInitialAccessTokenSchema } from '@/lib/rotation/schemas';
import { z } from 'zod';

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

// ---------------------------------------------------------------------------------------------
// Credential rotation (lib/rotation): ops and admins; each domain function checks the permission again.

/** Starts (or joins) the rotation shown in the plan and runs it as far as it can go now. */
export const startRotationAction = defineAction({
  name: 'startRotation',
  permission: 'registrations:write',
  schema: startRotationSchema,
  handler: async (actor, input) => {
    const result = await startRotation(actor, { ...input, trigger: 'manual' });
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

const rotationOnPage = z.object({ registrationId: z.uuid() });

/** A person confirms that the new credential works (no client_credentials grant to check it with). */
export const confirmRotationVerifiedAction = defineAction({
  name: 'confirmRotationVerified',
  permission: 'registrations:write',
  schema: rotationIdSchema.extend(rotationOnPage.shape),
  handler: async (actor, input) => {
    const result = await confirmRotationVerified(actor, { rotationId: input.rotationId });
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

/** A fresh initial access token for a rotation that needs one; used once, never stored. */
export const supplyInitialAccessTokenAction = defineAction({
  name: 'supplyInitialAccessToken',
  permission: 'registrations:write',
  schema: supplyInitialAccessTokenSchema.extend(rotationOnPage.shape),
  handler: async (actor, input) => {
    const result = await supplyInitialAccessToken(actor, { rotationId: input.rotationId, initialAccessToken: input.initialAccessToken });
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

export const retryRotationAction = defineAction({
  name: 'retryRotation',
  permission: 'registrations:write',
  schema: rotationIdSchema.extend(rotationOnPage.shape),
  handler: async (actor, input) => {
    const result = await retryRotation(actor, { rotationId: input.rotationId });
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

export const abandonRotationAction = defineAction({
  name: 'abandonRotation',
  permission: 'registrations:write',
  schema: rotationIdSchema.extend(rotationOnPage.shape),
  handler: async (actor, input) => {
    const result = await abandonRotation(actor, { rotationId: input.rotationId });
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});

export const setRotationPolicyAction = defineAction({
  name: 'setRotationPolicy',
  permission: 'registrations:write',
  schema: setRotationPolicySchema,
  handler: async (actor, input) => {
    const result = await setRotationPolicy(actor, input);
    revalidatePath(pageOf(input.registrationId));
    return result;
  },
});
