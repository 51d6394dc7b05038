import 'server-only';
import { and, count, eq, sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { auditLog, signInThrottle, users } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { env } from '@/lib/env';
import { verifyPassword } from './password';

/** `sessionEpoch`: read with the password hash, for the session to carry (users.session_epoch). */
export type SignInResult = { ok: true; user: { id: string; email: string; role: string; sessionEpoch: number } } | { ok: false; reason: 'invalid' | 'throttled' };

/**
 * Local email + password sign-in. Attempts are counted per email and per client address inside a
 * window, and each attempt is counted BEFORE the password is checked, in one atomic statement: a
 * burst of concurrent guesses cannot all pass the check before the first failure is written. Past
 * the limit every attempt is refused without checking the password; a successful sign-in clears
 * the email's count and takes its own attempt back from the address's. The caller shows one
 * generic message whatever the reason, so nobody learns which emails exist.
 */
export async function verifyCredentials(emailInput: string, password: string, clientAddress: string | null): Promise<SignInResult> {
  const email = emailInput.trim().toLowerCase();
  const keys = [`email:${email}`, ...(clientAddress ? [`addr:${clientAddress}`] : [])];
  if (await countAttempt(keys)) {
    await auditAnonymousFailure('denied', { email, reason: 'throttled' });
    return { ok: false, reason: 'throttled' };
  }
  const [user] = await getDb()
    .select({ id: users.id, email: users.email, role: users.role, isActive: users.isActive, passwordHash: users.passwordHash, sessionEpoch: users.sessionEpoch })
    .from(users)
    .where(eq(users.email, email))
    .limit(1);
  const valid = await verifyPassword(password, user?.passwordHash ?? null);
  if (!user || !valid || !user.isActive) {
    await auditAnonymousFailure('failure', { email });
    return { ok: false, reason: 'invalid' };
  }
  await getDb().delete(signInThrottle).where(eq(signInThrottle.key, `email:${email}`));
  if (clientAddress) await getDb().update(signInThrottle).set({ failures: sql`greatest(${signInThrottle.failures} - 1, 0)` }).where(eq(signInThrottle.key, `addr:${clientAddress}`));
  await getDb().update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, user.id));
  await recordAudit(
    getDb(),
    { type: 'user', id: user.id, email: user.email, role: user.role },
    { action: 'auth.sign_in', targetType: 'user', targetId: user.id },
  );
  return { ok: true, user: { id: user.id, email: user.email, role: user.role, sessionEpoch: user.sessionEpoch } };
}

/** Failed and throttled sign-ins audited a minute at most; beyond, one auth.sign_in_flood row a minute says so. */
export const ANONYMOUS_FAILURES_AUDITED_PER_MINUTE = 100;

/**
 * Audits a sign-in that did not succeed. Anyone can send those, with a fresh email each time (the
 * per-email limit does not stop that), and the audit log keeps every row for ever: past
 * ANONYMOUS_FAILURES_AUDITED_PER_MINUTE in the last minute, the rest of the minute's failures are
 * not written one by one; a single auth.sign_in_flood row records that it happened.
 */
async function auditAnonymousFailure(outcome: 'failure' | 'denied', details: Record<string, unknown>): Promise<void> {
  const [audited] = await getDb()
    .select({ n: count() })
    .from(auditLog)
    .where(and(eq(auditLog.action, 'auth.sign_in'), eq(auditLog.actorType, 'anonymous'), sql`${auditLog.at} > now() - interval '1 minute'`));
  if ((audited?.n ?? 0) < ANONYMOUS_FAILURES_AUDITED_PER_MINUTE) {
    await recordAudit(getDb(), null, { action: 'auth.sign_in', outcome, details });
    return;
  }
  // One flood row a minute, whichever of the concurrent failures gets here first (the lock).
  await getDb().transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('auth.sign_in_flood'))`);
    const [row] = await tx
      .select({ n: count() })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'auth.sign_in_flood'), sql`${auditLog.at} > now() - interval '1 minute'`));
    if ((row?.n ?? 0) > 0) return;
    await recordAudit(tx, null, {
      action: 'auth.sign_in_flood',
      outcome: 'denied',
      details: { limitPerMinute: ANONYMOUS_FAILURES_AUDITED_PER_MINUTE, note: 'More sign-ins failed this minute than are audited one by one; the rest of the minute’s failures are not listed.' },
    });
  });
}

/** Audits a sign-out (auth.sign_out) as the user who signed out; never fails the sign-out itself. */
export async function recordSignOut(userId: string): Promise<void> {
  try {
    const [user] = await getDb().select({ id: users.id, email: users.email, role: users.role }).from(users).where(eq(users.id, userId)).limit(1);
    if (user) await recordAudit(getDb(), { type: 'user', ...user }, { action: 'auth.sign_out', targetType: 'user', targetId: user.id });
  } catch {
    // The cookie is cleared either way; a missing audit row must not keep someone signed in.
  }
}

/**
 * Counts this attempt against every key (a new window when the last one is over) and says whether
 * any key is now past its limit. The address limit is looser: several people may share an office's
 * address.
 */
async function countAttempt(keys: string[]): Promise<boolean> {
  const { REGISTRAR_SIGNIN_MAX_FAILURES: max, REGISTRAR_SIGNIN_WINDOW_SECONDS: window } = env();
  const { rows } = await getDb().execute<{ key: string; failures: number }>(sql`
    insert into sign_in_throttle (key, failures, window_started_at)
    values ${sql.join(keys.map((key) => sql`(${key}, 1, now())`), sql`, `)}
    on conflict (key) do update set
      failures = case when sign_in_throttle.window_started_at > now() - make_interval(secs => ${window})
                      then sign_in_throttle.failures + 1 else 1 end,
      window_started_at = case when sign_in_throttle.window_started_at > now() - make_interval(secs => ${window})
                      then sign_in_throttle.window_started_at else now() end
    returning key, failures`);
  // Now and then, the counts of windows long over go (fresh emails would otherwise pile up for ever).
  if (Math.random() < 0.01) await getDb().execute(sql`delete from sign_in_throttle where window_started_at < now() - make_interval(secs => ${window}) - interval '1 hour'`);
  return rows.some((r) => r.failures > (r.key.startsWith('addr:') ? max * 4 : max));
}

/**
 * The client's address for the per-address limit, from X-Forwarded-For only as far as the proxies
 * this deployment trusts: each appends the address it received the request from, so with N trusted
 * proxies the client is the N-th entry from the right. Entries left of it are whatever the client
 * sent (spoofable: a fresh one per request would escape the limit, someone else's would lock them
 * out), so with no trusted proxy (the default) no address is used and only the email limit applies.
 */
export function clientAddressFrom(forwardedFor: string | string[] | undefined, trustedProxies = env().REGISTRAR_TRUSTED_PROXIES): string | null {
  if (trustedProxies === 0 || forwardedFor === undefined) return null;
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  return entries.length >= trustedProxies ? entries[entries.length - trustedProxies]! : null;
}
