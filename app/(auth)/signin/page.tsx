import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { Alert } from '@/components/ui/card';
import { getSessionState } from '@/lib/auth/session';
import { env } from '@/lib/env';
import { SignInForm } from './_components/sign-in-form';
import { safeReturnPath } from '@/lib/auth/return-to';

export const metadata: Metadata = { title: 'Sign in' };

const REASONS: Record<string, string> = {
  deactivated: 'Your account is no longer active, so you were signed out. Ask an admin if this is unexpected.',
  'session-ended': 'Your session was ended because your password was reset or your account was changed by an admin. Sign in again.',
  'signed-out': 'You are signed out.',
};

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const state = await getSessionState();
  const { reason, error, callbackUrl } = await searchParams;
  const returnTo = safeReturnPath(callbackUrl) ?? '/';
  if (state.status === 'signed-in') redirect(returnTo);
  const e = env();
  const sso = e.SSO_ISSUER && e.SSO_CLIENT_ID ? { name: e.SSO_NAME } : null;
  return (
    <main className="mx-auto mt-24 max-w-sm space-y-6 px-4">
      <div>
        <h1 className="text-2xl font-semibold">Registrar</h1>
        <p className="text-sm text-slate-600">OAuth client registrations across health systems.</p>
      </div>
      {reason && REASONS[reason] ? <Alert tone="info">{REASONS[reason]}</Alert> : null}
      {error && error !== 'CredentialsSignin' ? <Alert>Single sign-on did not let you in. Your email must be verified and known to Registrar.</Alert> : null}
      <SignInForm ssoName={sso?.name ?? null} returnTo={returnTo} />
    </main>
  );
}
