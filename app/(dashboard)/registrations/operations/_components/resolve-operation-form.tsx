'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextAreaField, TextField } from '@/components/ui/field';
import { reconcileOperationAction } from '../actions';

/** What the person found at the hospital: the client id it shows, or that nothing was registered. */
export function ResolveOperationForm({ operationId, clientName, softwareId }: { operationId: string; clientName: string | null; softwareId: string | null }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [outcome, setOutcome] = useState<'registered' | 'not_registered'>('registered');
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  return (
    <form
      aria-label="Record what the hospital shows"
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        startTransition(async () => {
          const result = await reconcileOperationAction({
            operationId,
            resolution: outcome === 'registered' ? { outcome, clientId: String(data.get('clientId') ?? '') } : { outcome },
            note: String(data.get('note') ?? ''),
          });
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
      <fieldset className="space-y-2 text-sm">
        <legend className="font-medium text-slate-700">
          At the hospital, a client{clientName ? ` named “${clientName}”` : ''}
          {softwareId ? ` with software_id ${softwareId}` : ''}…
        </legend>
        <label className="flex items-center gap-2">
          <input type="radio" name="outcome" value="registered" checked={outcome === 'registered'} onChange={() => setOutcome('registered')} /> exists: record the client id the hospital shows
        </label>
        <label className="flex items-center gap-2">
          <input type="radio" name="outcome" value="not_registered" checked={outcome === 'not_registered'} onChange={() => setOutcome('not_registered')} /> does not exist: nothing was registered
        </label>
      </fieldset>
      {outcome === 'registered' ? (
        <TextField label="Client id the hospital shows" name="clientId" required autoComplete="off" errors={fieldErrors['resolution'] ?? fieldErrors['resolution.clientId'] ?? fieldErrors.clientId} />
      ) : null}
      <TextAreaField label="Note (optional: where you looked, who confirmed it)" name="note" rows={2} errors={fieldErrors.note} />
      {error ? <Alert>{error}</Alert> : null}
      <Button type="submit" disabled={pending}>
        {pending ? 'Recording…' : outcome === 'registered' ? 'Record the client id' : 'Record that nothing was registered'}
      </Button>
    </form>
  );
}
