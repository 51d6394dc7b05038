import type { Metadata } from 'next';
import { Alert } from '@/components/ui/card';
import { isSetupTokenUsable } from '@/lib/auth/setup';
import { SetupForm } from './_components/setup-form';

export const metadata: Metadata = { title: 'Set up' };

export default async function SetupPage({ searchParams }: { searchParams: Promise<{ token?: string }> }) {
  const { token } = await searchParams;
  const usable = token ? await isSetupTokenUsable(token) : false;
  return (
    <main className="mx-auto mt-24 max-w-md space-y-6 px-4">
      <h1 className="text-2xl font-semibold">Set up Registrar</h1>
      {usable && token ? (
        <>
          <p className="text-sm text-slate-600">Create the first admin account. This link works once.</p>
          <SetupForm token={token} />
        </>
      ) : (
        <Alert>This set-up link is invalid, used or expired. If nobody can sign in yet, restart Registrar: it prints a new link.</Alert>
      )}
    </main>
  );
}
