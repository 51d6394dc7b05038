import 'server-only';
import { eq, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { signInThrottle, users } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { env } from '@/lib/env';
import { verifyPassword } from './password';

export type SignInResult = { ok: true; user: { id: string; email: string; role: string } } | { ok: false; reason: 'invalid' | 'throttled' };

/**
 * Local email + password sign-in. Failures are counted per email and per client address inside a
 * window; past the limit every attempt is refused without checking the password. The caller shows
 * one generic message whatever the reason, so nobody learns which emails exist.
 */
export async function verifyCredentials(emailInput: string, password: string, clientAddress: string | null): Promise<SignInResult> {
  const email = emailInput.trim().toLowerCase();
  const keys = [`email:${email}`, ...(clientAddress ? [`addr:${clientAddress}`] : [])];
  if (await isThrottled(keys)) {
    await recordAudit(getDb(), null, { action: 'auth.sign_in', outcome: 'denied', details: { email, reason: 'throttled' } });
    return { ok: false, reason: 'throttled' };
  }
  const [user] = await getDb()
    .select({ id: users.id, email: users.email, role: users.role, isActive: users.isActive, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, email))
    .limit(1);
  const valid = await verifyPassword(password, user?.passwordHash ?? null);
  if (!user || !valid || !user.isActive) {
    await countFailure(keys);
    await recordAudit(getDb(), null, { action: 'auth.sign_in', outcome: 'failure', details: { email } });
    return { ok: false, reason: 'invalid' };
  }
  await getDb().delete(signInThrottle).where(eq(signInThrottle.key, `email:${email}`));
  await getDb().update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, user.id));
  await recordAudit(
    getDb(),
    { type: 'user', id: user.id, email: user.email, role: user.role },
    { action: 'auth.sign_in', targetType: 'user', targetId: user.id },
  );
  return { ok: true, user: { id: user.id, email: user.email, role: user.role } };
}

async function isThrottled(keys: string[]): Promise<boolean> {
  const { REGISTRAR_SIGNIN_MAX_FAILURES: max, REGISTRAR_SIGNIN_WINDOW_SECONDS: window } = env();
  const rows = await getDb()
    .select({ key: signInThrottle.key, failures: signInThrottle.failures })
    .from(signInThrottle)
    .where(
      sql`${signInThrottle.key} in ${keys} and ${signInThrottle.windowStartedAt} > now() - make_interval(secs => ${window})`,
    );
  // The address limit is looser: several people may share an office's address.
  return rows.some((r) => r.failures >= (r.key.startsWith('addr:') ? max * 4 : max));
}

async function countFailure(keys: string[]): Promise<void> {
  const window = env().REGISTRAR_SIGNIN_WINDOW_SECONDS;
  for (const key of keys) {
    await getDb().execute(sql`
      insert into sign_in_throttle (key, failures, window_started_at) values (${key}, 1, now())
      on conflict (key) do update set
        failures = case when sign_in_throttle.window_started_at > now() - make_interval(secs => ${window})
                        then sign_in_throttle.failures + 1 else 1 end,
        window_started_at = case when sign_in_throttle.window_started_at > now() - make_interval(secs => ${window})
                        then sign_in_throttle.window_started_at else now() end`);
  }
}
