'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { closeOperation, reconcileOperation } from '@/lib/registrations/reconcile';
import { closeOperationSchema, reconcileOperationSchema } from '@/lib/registrations/schemas';

/** Re-checks an operation, or records what a person found at the hospital (audited). */
export const reconcileOperationAction = defineAction({
  name: 'reconcileOperation',
  permission: 'registrations:write',
  schema: reconcileOperationSchema,
  handler: async (actor, input) => {
    const view = await reconcileOperation(actor, input);
    revalidatePath(`/registrations/operations/${input.operationId}`);
    revalidatePath('/registrations/operations');
    return { status: view.status };
  },
});

/** Closes an operation whose orphan client the hospital has dealt with (audited). */
export const closeOperationAction = defineAction({
  name: 'closeOperation',
  permission: 'registrations:write',
  schema: closeOperationSchema,
  handler: async (actor, input) => {
    const view = await closeOperation(actor, input);
    revalidatePath(`/registrations/operations/${input.operationId}`);
    revalidatePath('/registrations/operations');
    return { status: view.status };
  },
});
