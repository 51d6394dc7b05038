'use server';

import { z } from 'zod';
import { completeSetup } from '@/lib/auth/setup';
import { toActionFailure, type ActionResult } from '@/lib/actions/define-action';

const setupSchema = z.object({
  token: z.string().min(1),
  email: z.string(),
  name: z.string().optional(),
  password: z.string(),
});

/** The only action that runs without a session: it is bound to a one-time set-up token. */
export async function completeSetupAction(raw: unknown): Promise<ActionResult<{ email: string }>> {
  const parsed = setupSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: { code: 'INVALID', message: 'Fill in every field.' } };
  try {
    const user = await completeSetup(parsed.data);
    return { ok: true, data: { email: user.email } };
  } catch (error) {
    return toActionFailure('completeSetup', error);
  }
}
