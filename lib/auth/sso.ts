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
export async function resolveSsoUser(profile: SsoProfile): Promise<string | null> {
  if (!profile.email || profile.email_verified !== true) return null;
  const email = profile.email.toLowerCase();
  const db = getDb();
  const [existing] = await db.select({ id: users.id, isActive: users.isActive }).from(users).where(eq(users.email, email)).limit(1);
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
  return userId;
}

