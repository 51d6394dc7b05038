'use server';

import { revalidatePath } from 'next/cache';
import { defineAction } from '@/lib/actions/define-action';
import { reconcileOperation } from '@/lib/registrations/reconcile';
import { reconcileOperationSchema } from '@/lib/registrations/schemas';

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
