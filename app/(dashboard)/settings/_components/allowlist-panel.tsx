'use client';

import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextField } from '@/components/ui/field';
import { addAllowlistEntryAction, removeAllowlistEntryAction } from '../actions';

export function AllowlistPanel({ entries, envEntries }: { entries: Array<{ id: string; entry: string; note: string | null }>; envEntries: string[] }) {
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});

  return (
    <div className="space-y-4">
      <p className="text-sm text-slate-600">
        Registrar refuses to call loopback, private, link-local and metadata addresses, and plain http. Entries here let a hospital reached over a
        private network through: a host (<code>fhir.hospital.org</code>), a host and port (<code>10.1.2.3:8443</code>) or a CIDR (
        <code>10.20.0.0/16</code>). Prefix with <code>http://</code> to also allow plain http to it.
      </p>
      <form
        aria-label="Add allowlist entry"
        className="grid grid-cols-1 items-end gap-3 md:grid-cols-3"
        onSubmit={(event) => {
          event.preventDefault();
          const formEl = event.currentTarget;
          const form = new FormData(formEl);
          startTransition(async () => {
            const result = await addAllowlistEntryAction({ entry: String(form.get('entry') ?? ''), note: String(form.get('note') ?? '') });
            if (result.ok) {
              formEl.reset();
              setError(null);
              setFieldErrors({});
            } else {
              setError(result.error.message);
              setFieldErrors(result.fieldErrors ?? {});
            }
          });
        }}
      >
        <TextField label="Entry" name="entry" required errors={fieldErrors.entry} />
        <TextField label="Note" name="note" errors={fieldErrors.note} />
        <Button type="submit" disabled={pending}>
          Add entry
        </Button>
      </form>
      {error ? <Alert>{error}</Alert> : null}
      <ul className="divide-y divide-slate-100 text-sm">
        {entries.map((e) => (
          <li key={e.id} className="flex items-center justify-between py-2">
            <span>
              <code>{e.entry}</code> {e.note ? <span className="text-slate-500">· {e.note}</span> : null}
            </span>
            <Button
              variant="ghost"
              disabled={pending}
              onClick={() =>
                startTransition(async () => {
                  const result = await removeAllowlistEntryAction({ id: e.id });
                  setError(result.ok ? null : result.error.message);
                })
              }
            >
              Remove<span className="sr-only"> {e.entry}</span>
            </Button>
          </li>
        ))}
        {envEntries.map((entry) => (
          <li key={`env-${entry}`} className="py-2 text-slate-600">
            <code>{entry}</code> · from REGISTRAR_OUTBOUND_ALLOWLIST (change it in the deployment)
          </li>
        ))}
        {entries.length + envEntries.length === 0 ? <li className="py-2 text-slate-500">No entries: only public https hosts are reachable.</li> : null}
      </ul>
    </div>
  );
}
