'use client';

import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { CopyButton } from '@/components/ui/copy-button';
import { SelectField, TextField } from '@/components/ui/field';
import { createApiTokenAction } from '../actions';

type RoleGrant = { role: string; permissions: string[] };

export function CreateTokenForm({ roles }: { roles: RoleGrant[] }) {
  const [pending, startTransition] = useTransition();
  const [role, setRole] = useState(roles[0]?.role ?? 'support');
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  // Shown once, kept in this component's memory only, dropped on the next submission.
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const granted = roles.find((r) => r.role === role)?.permissions ?? [];

  return (
    <div className="space-y-4">
      <form
        aria-label="Create API token"
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          const formEl = event.currentTarget;
          const form = new FormData(formEl);
          const input = {
            name: String(form.get('name') ?? ''),
            role: String(form.get('role') ?? ''),
            permissions: form.getAll('permissions').map(String),
            expiresInDays: String(form.get('expiresInDays') ?? ''),
          };
          setCreated(null);
          startTransition(async () => {
            const result = await createApiTokenAction(input);
            if (result.ok) {
              formEl.reset();
              setRole(roles[0]?.role ?? 'support');
              setError(null);
              setFieldErrors({});
              setCreated({ name: result.data.name, token: result.data.token });
            } else {
              setError(result.error.message);
              setFieldErrors(result.fieldErrors ?? {});
            }
          });
        }}
      >
        <div className="grid grid-cols-1 gap-3 md:grid-cols-3">
          <TextField label="Name" name="name" required hint="What uses it, e.g. ci-deploy." errors={fieldErrors.name} />
          <SelectField label="Role" name="role" value={role} onChange={(e) => setRole(e.target.value)} errors={fieldErrors.role}>
            {roles.map((r) => (
              <option key={r.role} value={r.role}>
                {r.role}
              </option>
            ))}
          </SelectField>
          <TextField label="Expires in days" name="expiresInDays" type="number" min={1} max={3650} hint="Empty: never expires." errors={fieldErrors.expiresInDays} />
        </div>
        <fieldset className="space-y-1">
          <legend className="text-sm font-medium text-slate-700">Permissions (none ticked: all of the role’s)</legend>
          <div className="grid grid-cols-1 gap-1 sm:grid-cols-2 md:grid-cols-3">
            {granted.map((p) => (
              <label key={`${role}-${p}`} className="flex items-center gap-2 text-sm">
                <input type="checkbox" name="permissions" value={p} /> <code>{p}</code>
              </label>
            ))}
          </div>
          {fieldErrors.permissions?.length ? (
            <p role="alert" className="text-xs text-red-700">
              {fieldErrors.permissions.join(' ')}
            </p>
          ) : null}
        </fieldset>
        <Button type="submit" disabled={pending}>
          Create token
        </Button>
      </form>
      {error ? <Alert>{error}</Alert> : null}
      {created ? (
        <Alert tone="warning">
          <p>
            Token “{created.name}” (shown once: copy it now; Registrar keeps only its hash):
          </p>
          <div className="mt-1 flex items-center gap-2">
            <code data-testid="new-api-token" className="break-all font-mono">
              {created.token}
            </code>
            <CopyButton text={created.token} />
          </div>
        </Alert>
      ) : null}
    </div>
  );
}
