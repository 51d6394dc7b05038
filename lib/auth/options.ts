import 'server-only';
import type { NextAuthOptions } from 'next-auth';
import CredentialsProvider from 'next-auth/providers/credentials';
import { env } from '@/lib/env';
import { clientAddressFrom, recordSignOut, verifyCredentials } from './sign-in';
import { completeSsoSignIn, resolveSsoUser, type SsoProfile } from './sso';


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
          const result = await verifyCredentials(credentials.email, credentials.password, clientAddressFrom(req?.headers?.['x-forwarded-for']));
          return result.ok ? { id: result.user.id, email: result.user.email, sessionEpoch: result.user.sessionEpoch } : null;
        },
      }),
      ...ssoProvider(),
    ],
    events: {
      // Who signed out when, beside who signed in (the session's cookie is cleared by next-auth).
      async signOut({ token }) {
        if (typeof token?.uid === 'string') await recordSignOut(token.uid);
      },
    },
    callbacks: {
      async signIn({ account, profile }) {
        if (account?.provider !== 'sso') return true;
        return (await completeSsoSignIn(profile as SsoProfile)) !== null;
      },
      async jwt({ token, user, account, profile }) {
        if (account?.provider === 'sso') {
          const resolved = await resolveSsoUser(profile as SsoProfile);
          token.uid = resolved?.id;
          token.epoch = resolved?.sessionEpoch;
          token.signedInAt = Date.now();
        } else if (user) {
          token.uid = user.id;
          token.epoch = (user as { sessionEpoch?: number }).sessionEpoch;
          token.signedInAt = Date.now();
        }
        // The role is deliberately not stored in the token: it is read from the database per request.
        return token;
      },
      async session({ session, token }) {
        return {
          ...session,
          uid: typeof token.uid === 'string' ? token.uid : undefined,
          signedInAt: typeof token.signedInAt === 'number' ? token.signedInAt : undefined,
          epoch: typeof token.epoch === 'number' ? token.epoch : undefined,
        };
      },
    },
  };
}
