'use client';

import { signIn } from 'next-auth/react';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextField } from '@/components/ui/field';
import { safeReturnPath } from '@/lib/auth/return-to';

/** `returnTo`: a path of this site (checked by the page with safeReturnPath) to go to once signed in. */
export function SignInForm({ ssoName, returnTo }: { ssoName: string | null; returnTo: string }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function onSubmit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setPending(true);
    setError(null);
    const form = new FormData(event.currentTarget);
    const result = await signIn('credentials', {
      email: String(form.get('email') ?? ''),
      password: String(form.get('password') ?? ''),
      redirect: false,
    });
    setPending(false);
    if (!result || result.error) {
      // One message for every failure: wrong password, unknown email, inactive, throttled.
      setError('Sign-in failed. Check your email and password, or wait a few minutes after several failed attempts.');
      return;
    }
    router.replace(safeReturnPath(returnTo) ?? '/');
    router.refresh();
  }

  return (
    <div className="space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <form onSubmit={onSubmit} className="space-y-4" aria-label="Sign in">
        <TextField label="Email" name="email" type="email" autoComplete="username" required />
        <TextField label="Password" name="password" type="password" autoComplete="current-password" required />
        {error ? <Alert>{error}</Alert> : null}
        <Button type="submit" disabled={pending} className="w-full">
          {pending ? 'Signing in…' : 'Sign in'}
        </Button>
      </form>
      {ssoName ? (
        <Button variant="secondary" className="w-full" onClick={() => signIn('sso', { callbackUrl: safeReturnPath(returnTo) ?? '/' })}>
          Sign in with {ssoName}
        </Button>
      ) : null}
    </div>
  );
}
