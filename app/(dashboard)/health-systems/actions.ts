'use server';

import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { defineAction } from '@/lib/actions/define-action';
import { createHealthSystem, updateHealthSystem } from '@/lib/health-systems/mutations';
import { healthSystemInputSchema, updateHealthSystemSchema } from '@/lib/health-systems/schemas';
import { addIssuer } from '@/lib/issuers/add-issuer';
import { getBulkOperation, startRefreshAll } from '@/lib/issuers/refresh-all';
import { acceptIssuerChange, refreshIssuer } from '@/lib/issuers/refresh-issuer';
import { acceptIssuerChangeSchema, addIssuerSchema, issuerIdSchema, setIssuerEpicClientIdSchema } from '@/lib/issuers/schemas';
import { setIssuerEpicClientId } from '@/lib/issuers/set-issuer-epic-client-id';

export const createHealthSystemAction = defineAction({
  name: 'createHealthSystem',
  permission: 'health-systems:write',
  schema: healthSystemInputSchema,
  handler: async (actor, input) => {
    const row = await createHealthSystem(actor, input);
    revalidatePath('/health-systems');
    return row;
  },
});

export const updateHealthSystemAction = defineAction({
  name: 'updateHealthSystem',
  permission: 'health-systems:write',
  schema: updateHealthSystemSchema,
  handler: async (actor, input) => {
    const row = await updateHealthSystem(actor, input);
    revalidatePath(`/health-systems/${row.id}`);
    return row;
  },
});

export const addIssuerAction = defineAction({
  name: 'addIssuer',
  permission: 'health-systems:write',
  schema: addIssuerSchema,
  handler: async (actor, input) => {
    const { id, issuer } = await addIssuer(actor, input);
    revalidatePath(`/health-systems/${input.healthSystemId}`);
    return { id, issuer };
  },
});

export const refreshIssuerAction = defineAction({
  name: 'refreshIssuer',
  permission: 'health-systems:write',
  schema: issuerIdSchema,
  handler: async (actor, { issuerId }) => {
    const outcome = await refreshIssuer(actor, issuerId, { trigger: 'manual' });
    revalidatePath('/health-systems', 'layout');
    return outcome;
  },
});

export const acceptIssuerChangeAction = defineAction({
  name: 'acceptIssuerChange',
  permission: 'health-systems:write',
  schema: acceptIssuerChangeSchema,
  handler: async (actor, { issuerId, seenReason }) => {
    const result = await acceptIssuerChange(actor, issuerId, { seenReason: seenReason ?? null });
    revalidatePath('/health-systems', 'layout');
    return result;
  },
});

/** Sets or clears the issuer's Epic client id and discovers again with it. */
export const setIssuerEpicClientIdAction = defineAction({
  name: 'setIssuerEpicClientId',
  permission: 'health-systems:write',
  schema: setIssuerEpicClientIdSchema,
  handler: async (actor, input) => {
    const result = await setIssuerEpicClientId(actor, input);
    revalidatePath('/health-systems', 'layout');
    return result;
  },
});

export const startRefreshAllAction = defineAction({
  name: 'startRefreshAll',
  permission: 'health-systems:write',
  schema: z.object({}),
  handler: (actor) => startRefreshAll(actor),
});

/** Polled by the progress bar. */
export const getRefreshAllProgressAction = defineAction({
  name: 'getRefreshAllProgress',
  permission: 'health-systems:read',
  schema: z.object({ operationId: z.uuid().nullable() }),
  handler: (actor, { operationId }) => getBulkOperation(actor, operationId),
});
