'use client';

import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextAreaField } from '@/components/ui/field';
import { useFormAction } from '@/components/ui/use-form-action';
import { closeOperationAction } from '../actions';

/** Closes an operation once the hospital has deleted its orphan client (or issued new credentials). */
export function CloseOperationForm({ operationId, clientId }: { operationId: string; clientId: string | null }) {
  const { pending, error, fieldErrors, submit } = useFormAction();
  return (
    <form
      aria-label="Close this operation"
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        submit(() => closeOperationAction({ operationId, note: String(data.get('note') ?? '') }));
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
