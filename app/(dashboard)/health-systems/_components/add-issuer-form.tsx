'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { SelectField, TextField } from '@/components/ui/field';
import type { ActionError } from '@/lib/actions/define-action';
import { addIssuerAction } from '../actions';

/** Adds an issuer; by default opens its page, or hands the new id to `onAdded` (inline use in onboarding). */
export function AddIssuerForm({ healthSystemId, onAdded }: { healthSystemId: string; onAdded?: (issuerId: string) => void }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<ActionError | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [environment, setEnvironment] = useState('production');

  return (
    <form
      aria-label="Add issuer"
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        const env = String(form.get('environment') ?? '');
        const input = {
          healthSystemId,
          url: String(form.get('url') ?? ''),
          environment: env === 'other' ? String(form.get('customEnvironment') ?? '') : env,
          epicClientId: String(form.get('epicClientId') ?? ''),
        };
        startTransition(async () => {
          const result = await addIssuerAction(input);
          if (!result.ok) {
            setError(result.error);
            setFieldErrors(result.fieldErrors ?? {});
            return;
          }
          if (onAdded) onAdded(result.data.id);
          else router.push(`/health-systems/${healthSystemId}/issuers/${result.data.id}`);
        });
      }}
    >
      <TextField
        label="Issuer or FHIR base URL"
        name="url"
        required
        placeholder="https://fhir.hospital.org/interconnect-fhir-oauth/api/FHIR/R4"
        hint="Registrar tries SMART configuration, the CapabilityStatement, OpenID/OAuth metadata and UDAP."
        errors={fieldErrors.url}
      />
      <div className="grid grid-cols-1 gap-3 md:grid-cols-3">
        {/* Its own id: this form also opens inside the onboarding wizard, which has an Environment select too.
            With "other…" the server checks the name typed below, so its errors are shown there. */}
        <SelectField
          id="add-issuer-environment"
          label="Environment"
          name="environment"
          value={environment}
          onChange={(e) => setEnvironment(e.target.value)}
          errors={environment === 'other' ? undefined : fieldErrors.environment}
        >
          <option value="production">production</option>
          <option value="non-production">non-production</option>
          <option value="sandbox">sandbox</option>
          <option value="other">other…</option>
        </SelectField>
        {environment === 'other' ? <TextField label="Environment name" name="customEnvironment" required errors={fieldErrors.environment} /> : <div />}
        <TextField label="Epic client id (optional)" name="epicClientId" hint="Sent as Epic-Client-ID so Epic reveals its registration endpoint." errors={fieldErrors.epicClientId} />
      </div>
      <Button type="submit" disabled={pending}>
        {pending ? 'Discovering…' : 'Discover and add'}
      </Button>
      {error && !fieldErrors.url ? <Alert>{error.message}</Alert> : null}
      {error?.attempts?.length ? (
        <div className="rounded-md border border-slate-200 p-3 text-xs">
          <p className="mb-1 font-medium">
            What Registrar tried ({error.code}):
          </p>
          <ul className="space-y-0.5 font-mono">
            {error.attempts.map((a, i) => (
              <li key={i}>
                {a.outcome.padEnd(9)} {a.kind} {a.url} — {a.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </form>
  );
}
