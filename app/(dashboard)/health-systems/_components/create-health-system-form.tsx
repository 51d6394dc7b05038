'use client';

import { useState } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextAreaField, TextField } from '@/components/ui/field';
import { useFormAction } from '@/components/ui/use-form-action';
import { createHealthSystemAction, updateHealthSystemAction } from '../actions';

type Initial = { id: string; name: string; notes: string | null; tags: string[]; contacts: Array<{ name: string; email?: string; role?: string }> };

/** Create (no `initial`) or edit a health system. */
export function CreateHealthSystemForm({ initial }: { initial?: Initial }) {
  const { pending, error, fieldErrors, submit, router } = useFormAction();
  const [saved, setSaved] = useState(false);

  return (
    <form
      aria-label={initial ? 'Edit health system' : 'New health system'}
      className="grid grid-cols-1 gap-3 md:grid-cols-2"
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        const input = {
          name: String(form.get('name') ?? ''),
          notes: String(form.get('notes') ?? ''),
          tags: String(form.get('tags') ?? ''),
          contacts: String(form.get('contacts') ?? ''),
        };
        setSaved(false);
        submit(
          () => (initial ? updateHealthSystemAction({ ...input, id: initial.id }) : createHealthSystemAction(input)),
          (data) => {
            if (initial) {
              setSaved(true);
              router.refresh();
            } else {
              router.push(`/health-systems/${data.id}`);
            }
          },
        );
      }}
    >
      <TextField label="Name" name="name" required defaultValue={initial?.name} errors={fieldErrors.name} />
      <TextField label="Tags" name="tags" hint="Comma separated, e.g. epic, west-region" defaultValue={initial?.tags.join(', ')} errors={fieldErrors.tags} />
      <TextAreaField label="Notes" name="notes" rows={2} defaultValue={initial?.notes ?? ''} errors={fieldErrors.notes} />
      <TextAreaField
        label="Contacts"
        name="contacts"
        rows={2}
        placeholder="Name, email, role — one per line"
        defaultValue={initial?.contacts.map((c) => [c.name, c.email, c.role].filter(Boolean).join(', ')).join('\n')}
        errors={fieldErrors.contacts}
      />
      <div className="flex items-center gap-3 md:col-span-2">
        <Button type="submit" disabled={pending}>
          {pending ? 'Saving…' : initial ? 'Save changes' : 'Create health system'}
        </Button>
        {saved ? <span className="text-sm text-green-700">Saved.</span> : null}
      </div>
      {error ? (
        <div className="md:col-span-2">
          <Alert>{error}</Alert>
        </div>
      ) : null}
    </form>
  );
}
