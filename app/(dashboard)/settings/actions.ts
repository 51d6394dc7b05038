'use server';

import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { defineAction } from '@/lib/actions/define-action';
import { addAllowlistEntry, addAllowlistEntrySchema, removeAllowlistEntry } from '@/lib/outbound/allowlist-store';
import { changeUserRole, createUser, resetUserPassword, setUserActive } from '@/lib/users/mutations';
import { changeRoleSchema, createUserSchema, setUserActiveSchema, userIdSchema } from '@/lib/users/schemas';
import { setSsoSignupDomains, ssoDomainsSchema } from '@/lib/settings/sso';

async function after<T>(fn: () => Promise<T>): Promise<T> {
  const result = await fn();
  revalidatePath('/settings');
  return result;
}

export const createUserAction = defineAction({
  name: 'createUser',
  permission: 'users:manage',
  schema: createUserSchema,
  handler: (actor, input) => after(() => createUser(actor, input)),
});

export const changeUserRoleAction = defineAction({
  name: 'changeUserRole',
  permission: 'users:manage',
  schema: changeRoleSchema,
  handler: (actor, input) => after(() => changeUserRole(actor, input)),
});

export const setUserActiveAction = defineAction({
  name: 'setUserActive',
  permission: 'users:manage',
  schema: setUserActiveSchema,
  handler: (actor, input) => after(() => setUserActive(actor, input)),
});

export const resetUserPasswordAction = defineAction({
  name: 'resetUserPassword',
  permission: 'users:manage',
  schema: userIdSchema,
  handler: (actor, input) => after(() => resetUserPassword(actor, input)),
});

export const addAllowlistEntryAction = defineAction({
  name: 'addAllowlistEntry',
  permission: 'settings:manage',
  schema: addAllowlistEntrySchema,
  handler: (actor, input) => after(() => addAllowlistEntry(actor, input)),
});

export const removeAllowlistEntryAction = defineAction({
  name: 'removeAllowlistEntry',
  permission: 'settings:manage',
  schema: z.object({ id: z.uuid() }),
  handler: (actor, input) => after(() => removeAllowlistEntry(actor, input)),
});

export const setSsoSignupDomainsAction = defineAction({
  name: 'setSsoSignupDomains',
  permission: 'settings:manage',
  schema: ssoDomainsSchema,
  handler: (actor, input) => after(() => setSsoSignupDomains(actor, input)),
});
