'use client';

import { useState } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextAreaField, TextField } from '@/components/ui/field';
import { useFormAction } from '@/components/ui/use-form-action';
import { reconcileOperationAction } from '../actions';

/** What the person found at the hospital: the client id it shows, or that nothing was registered. */
export function ResolveOperationForm({ operationId, clientName, softwareId }: { operationId: string; clientName: string | null; softwareId: string | null }) {
  const { pending, error, fieldErrors, submit } = useFormAction();
  const [outcome, setOutcome] = useState<'registered' | 'not_registered'>('registered');
  return (
    <form
      aria-label="Record what the hospital shows"
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        const data = new FormData(event.currentTarget);
        submit(() =>
          reconcileOperationAction({
            operationId,
            resolution: outcome === 'registered' ? { outcome, clientId: String(data.get('clientId') ?? '') } : { outcome },
            note: String(data.get('note') ?? ''),
          }),
        );
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
