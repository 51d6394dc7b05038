'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextAreaField } from '@/components/ui/field';
import { closeOperationAction } from '../actions';

/** Closes an operation once the hospital has deleted its orphan client (or issued new credentials). */
export function CloseOperationForm({ operationId, clientId }: { operationId: string; clientId: string | null }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  return (
    <form
      aria-label="Close this operation"
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        startTransition(async () => {
          const result = await closeOperationAction({ operationId, note: String(data.get('note') ?? '') });
          if (!result.ok) {
            setError(result.error.message);
            setFieldErrors(result.fieldErrors ?? {});
            return;
          }
          setError(null);
          router.refresh();
        });
      }}
    >
      <p className="text-sm text-slate-700">
        When the hospital has deleted client <code>{clientId ?? ''}</code> or issued new credentials for it, close this operation: it no longer waits for a person.
      </p>
      <TextAreaField label="What the hospital did (optional)" name="note" rows={2} errors={fieldErrors.note} />
      {error ? <Alert>{error}</Alert> : null}
      <Button type="submit" disabled={pending}>
        {pending ? 'Closing…' : 'Close this operation'}
      </Button>
    </form>
  );
}
