'use client';

import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { CopyButton } from '@/components/ui/copy-button';
import { revealSecretAction } from '../actions';

/** The audited reveal: the value lives only in this component's memory and is dropped on Hide. */
export function RevealSecret({ registrationId }: { registrationId: string }) {
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  return (
    <div className="mt-4 flex flex-wrap items-center gap-2 text-sm">
      {secret ? (
        <>
          <code className="rounded bg-amber-50 px-2 py-1 font-mono" data-testid="revealed-secret">
            {secret}
          </code>
          <CopyButton text={secret} />
          <Button variant="ghost" onClick={() => setSecret(null)}>
            Hide
          </Button>
        </>
      ) : (
        <Button
          variant="secondary"
          disabled={pending}
          onClick={() =>
            startTransition(async () => {
              const result = await revealSecretAction({ registrationId, kind: 'client_secret' });
              if (result.ok) setSecret(result.data.value);
              else setError(result.error.message);
            })
          }
        >
          Reveal client secret (audited)
        </Button>
      )}
      {error ? <span className="text-red-700">{error}</span> : null}
    </div>
  );
}
