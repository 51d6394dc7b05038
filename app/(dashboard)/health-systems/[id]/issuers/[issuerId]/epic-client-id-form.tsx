'use client';

import { useState } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextField } from '@/components/ui/field';
import { usePageAction, type ActionMessage } from '@/components/ui/use-page-action';
import { setIssuerEpicClientIdAction } from '../../../actions';

type Saved = Extract<Awaited<ReturnType<typeof setIssuerEpicClientIdAction>>, { ok: true }>['data'];

/** What happened, in the words ops need: what discovery found and whether Registrar uses it now. */
function outcomeMessage(saved: Saved): ActionMessage {
  const { before, after } = saved.registrationEndpoint;
  const held = saved.refresh.needsAttention ? ' Another change the hospital published is held for review: see Needs attention above.' : '';
  if (saved.refresh.outcome === 'failed') {
    return {
      tone: 'warning',
      text: `${saved.changed ? 'The Epic client ID is saved' : 'The Epic client ID is unchanged'}, but discovery failed: ${saved.refresh.error?.message ?? 'unknown error'} The metadata below is from the last successful discovery. Press Refresh once the server answers; a registration endpoint found then waits for someone to accept it.`,
    };
  }
  if (!saved.changed) {
    return { tone: after ? 'success' : 'warning', text: `The Epic client ID is unchanged; discovery ran again (${saved.refresh.changes} change(s)).${held}` };
  }
  const sent = saved.epicClientId ? 'with the new Epic client ID' : 'without an Epic client ID';
  if (after && after !== before) {
    return { tone: 'success', text: `Saved. Discovery ran again ${sent} and found the registration endpoint ${after}; Registrar uses it now, as you changed the Epic client ID yourself (recorded in the audit log).${held}` };
  }
  if (after) return { tone: 'success', text: `Saved. Discovery ran again ${sent}; the registration endpoint is still ${after}.${held}` };
  const dropped = before ? ` Registrar no longer uses ${before}.` : '';
  return {
    tone: 'warning',
    text: `Saved. Discovery ran again ${sent} and found no registration endpoint.${dropped} ${saved.epicClientId ? 'Check the Epic client ID with the hospital (it is the app’s client ID for this Epic environment).' : ''}${held}`.trim(),
  };
}

/** Sets or clears the issuer's Epic client id (ops and admins); saving runs discovery again with it. */
export function EpicClientIdForm({ issuerId, epicClientId }: { issuerId: string; epicClientId: string | null }) {
  const { pending, message, run } = usePageAction();
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});

  return (
    <form
      aria-label="Epic client ID"
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        const field = event.currentTarget.elements.namedItem('epicClientId') as HTMLInputElement;
        const input = { issuerId, epicClientId: field.value };
        run(async () => {
          const result = await setIssuerEpicClientIdAction(input);
          setFieldErrors(result.ok ? {} : (result.fieldErrors ?? {}));
          if (!result.ok) return result.fieldErrors?.epicClientId ? null : { tone: 'error', text: result.error.message };
          field.value = result.data.epicClientId ?? ''; // as stored (trimmed)
          return outcomeMessage(result.data);
        });
      }}
    >
      <TextField
        label="Epic client ID"
        name="epicClientId"
        defaultValue={epicClientId ?? ''}
        autoComplete="off"
        spellCheck={false}
        hint="Sent as the Epic-Client-ID header during discovery: Epic shows its registration endpoint only to the client it names. Leave empty to remove it. Saving discovers again."
        errors={fieldErrors.epicClientId}
      />
      <Button type="submit" disabled={pending}>
        {pending ? 'Discovering…' : 'Save and discover again'}
      </Button>
      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}
    </form>
  );
}
