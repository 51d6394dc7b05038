'use client';

import { signIn } from 'next-auth/react';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextField } from '@/components/ui/field';
import { completeSetupAction } from '../actions';

export function SetupForm({ token }: { token: string }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [pending, setPending] = useState(false);

  async function onSubmit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get('email') ?? '');
    const password = String(form.get('password') ?? '');
    if (password !== String(form.get('confirm') ?? '')) {
      setFieldErrors({ confirm: ['The two passwords differ.'] });
      return;
    }
    setPending(true);
    const result = await completeSetupAction({ token, email, password, name: String(form.get('name') ?? '') });
    if (!result.ok) {
      setPending(false);
      setError(result.error.message);
      setFieldErrors(result.fieldErrors ?? {});
      return;
    }
    await signIn('credentials', { email, password, redirect: false });
    router.replace('/');
    router.refresh();
  }

  return (
    <form onSubmit={onSubmit} className="space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-label="Create the first admin">
      <TextField label="Name" name="name" autoComplete="name" errors={fieldErrors.name} />
      <TextField label="Email" name="email" type="email" required errors={fieldErrors.email} />
      <TextField label="Password" name="password" type="password" required minLength={12} hint="At least 12 characters." errors={fieldErrors.password} />
      <TextField label="Confirm password" name="confirm" type="password" required errors={fieldErrors.confirm} />
      {error ? <Alert>{error}</Alert> : null}
      <Button type="submit" disabled={pending} className="w-full">
        {pending ? 'Creating…' : 'Create admin'}
      </Button>
    </form>
  );
}
