import 'server-only';
import type { NextAuthOptions } from 'next-auth';
import CredentialsProvider from 'next-auth/providers/credentials';
import { and, eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { accounts, users } from '@/db/schema';
import { recordAudit } from '@/lib/audit/record';
import { env } from '@/lib/env';
import { getSetting } from '@/lib/settings/store';
import { verifyCredentials } from './sign-in';

type SsoProfile = { sub: string; email?: string; email_verified?: boolean; name?: string };

function ssoProvider(): NextAuthOptions['providers'] {
  const e = env();
  if (!e.SSO_ISSUER || !e.SSO_CLIENT_ID || !e.SSO_CLIENT_SECRET) return [];
  return [
    {
      id: 'sso',
      name: e.SSO_NAME,
      type: 'oauth',
      wellKnown: `${e.SSO_ISSUER.replace(/\/$/, '')}/.well-known/openid-configuration`,
      clientId: e.SSO_CLIENT_ID,
      clientSecret: e.SSO_CLIENT_SECRET,
      authorization: { params: { scope: 'openid email profile' } },
      idToken: true,
      checks: ['pkce', 'state', 'nonce'],
      profile: (p: SsoProfile) => ({ id: p.sub, email: p.email ?? null, name: p.name ?? null }),
    },
  ];
}

/**
 * SSO users are matched to an existing local user by verified email. New users come through SSO
 * only for domains an admin allowed, and then as support (least privilege).
 */
async function resolveSsoUser(profile: SsoProfile): Promise<string | null> {
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

export function authOptions(): NextAuthOptions {
  return {
    secret: env().NEXTAUTH_SECRET,
    session: { strategy: 'jwt', maxAge: 8 * 60 * 60 },
    pages: { signIn: '/signin', error: '/signin' },
    providers: [
      CredentialsProvider({
        id: 'credentials',
        name: 'Email and password',
        credentials: { email: { label: 'Email', type: 'email' }, password: { label: 'Password', type: 'password' } },
        async authorize(credentials, req) {
          if (!credentials?.email || !credentials.password) return null;
          const forwarded = req?.headers?.['x-forwarded-for'];
          const address = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() ?? null;
          const result = await verifyCredentials(credentials.email, credentials.password, address);
          return result.ok ? { id: result.user.id, email: result.user.email } : null;
        },
      }),
      ...ssoProvider(),
    ],
    callbacks: {
      async signIn({ account, profile }) {
        if (account?.provider !== 'sso') return true;
        return (await resolveSsoUser(profile as SsoProfile)) !== null;
      },
      async jwt({ token, user, account, profile }) {
        if (account?.provider === 'sso') {
          token.uid = (await resolveSsoUser(profile as SsoProfile)) ?? undefined;
        } else if (user) {
          token.uid = user.id;
        }
        // The role is deliberately not stored in the token: it is read from the database per request.
        return token;
      },
      async session({ session, token }) {
        return { ...session, uid: typeof token.uid === 'string' ? token.uid : undefined };
      },
    },
  };
}
