import 'server-only';
import { and, eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { accounts, users } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { env } from '@/lib/env';
import { getSetting } from '@/lib/settings/store';

export type SsoProfile = { sub: string; email?: string; email_verified?: boolean; name?: string };

/**
 * SSO users are matched to an existing local user by verified email. New users come through SSO
 * only for domains an admin allowed, and then as support (least privilege).
 */
export async function resolveSsoUser(profile: SsoProfile): Promise<{ id: string; sessionEpoch: number } | null> {
  if (!profile.email || profile.email_verified !== true) return null;
  const email = profile.email.toLowerCase();
  const db = getDb();
  const [existing] = await db.select({ id: users.id, isActive: users.isActive, sessionEpoch: users.sessionEpoch }).from(users).where(eq(users.email, email)).limit(1);
  let userId = existing?.isActive ? existing.id : null;
  if (!existing) {
    const domain = email.split('@')[1] ?? '';
    const allowed = [
      ...env().SSO_SELF_SIGNUP_DOMAINS.split(','),
      ...((await getSetting<string[]>('sso.selfSignupDomains')) ?? []),
    ].map((d) => d.trim().toLowerCase()).filter(Boolean);
    if (!allowed.includes(domain)) return null;
    const [created] = await db.insert(users).values({ email, name: profile.name ?? null, role: 'support' }).returning({ id: users.id });
    userId = created?.id ?? null;
    if (userId) await recordAudit(db, null, { action: 'user.sso_signup', targetType: 'user', targetId: userId, details: { email } });
  }
  if (!userId) return null;
  const [link] = await db
    .select({ id: accounts.id })
    .from(accounts)
    .where(and(eq(accounts.provider, 'sso'), eq(accounts.providerAccountId, profile.sub)))
    .limit(1);
  if (!link) await db.insert(accounts).values({ userId, provider: 'sso', providerAccountId: profile.sub });
  return { id: userId, sessionEpoch: existing?.sessionEpoch ?? 0 };
}

/**
 * The sign-in callback's step: the user an SSO identity signs in as, audited like a password
 * sign-in (`auth.sign_in`, success or denied with the reason) and with the user's last sign-in
 * time, so "who signed in when" covers SSO users too. Null refuses the sign-in.
 */
export async function completeSsoSignIn(profile: SsoProfile): Promise<string | null> {
  const userId = (await resolveSsoUser(profile))?.id ?? null;
  const email = profile.email?.toLowerCase() ?? null;
  if (!userId) {
    const reason = !email ? 'no_email' : profile.email_verified !== true ? 'email_not_verified' : 'no_active_user';
    await recordAudit(getDb(), null, { action: 'auth.sign_in', outcome: 'denied', details: { email, method: 'sso', reason } });
    return null;
  }
  const [user] = await getDb().update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, userId)).returning({ id: users.id, email: users.email, role: users.role });
  if (user) await recordAudit(getDb(), { type: 'user', id: user.id, email: user.email, role: user.role }, { action: 'auth.sign_in', targetType: 'user', targetId: user.id, details: { method: 'sso' } });
  return userId;
}
