'use client';

import { useState } from 'react';
import { Button } from '@/components/ui/button';
import { COMMON_FHIR_RESOURCES, formatScope, SMART_NON_RESOURCE_SCOPES, validateScopeString } from '@/lib/smart';

const INTERACTIONS = ['c', 'r', 'u', 'd', 's'] as const;
type Interaction = (typeof INTERACTIONS)[number];
const INTERACTION_NAMES: Record<Interaction, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

/** Why the picker cannot make a scope of these choices, or null when it can. */
function pickerProblem(resource: string, interactions: readonly Interaction[], version: 'v1' | 'v2'): string | null {
  if (resource === '') return 'Enter a resource type (e.g. Patient), or * for every resource.';
  if (resource !== '*' && !/^[A-Z][A-Za-z]*$/.test(resource)) return `"${resource}" is not a FHIR resource type: they are written in letters, starting with a capital (Patient, Observation), or * for every resource.`;
  if (interactions.length === 0) return 'Choose at least one interaction.';
  if (version === 'v1') return 'v1 can only say read (r s), write (c u d) or * (all).';
  return null;
}

/**
 * Builds SMART scopes (context / resource / interactions, v1 or v2) and appends them to a free-text
 * scope field. Free text stays as typed; the findings below explain anything odd.
 */
export function ScopeField({ name, label, defaultValue, supported, errors }: { name: string; label: string; defaultValue?: string; supported?: string[]; errors?: string[] }) {
  const [value, setValue] = useState(defaultValue ?? '');
  const [context, setContext] = useState<'patient' | 'user' | 'system'>('patient');
  const [resource, setResource] = useState('Patient');
  const [interactions, setInteractions] = useState<Interaction[]>(['r', 's']);
  const [version, setVersion] = useState<'v1' | 'v2'>('v2');
  const [pickerError, setPickerError] = useState<string | null>(null);
  const findings = validateScopeString(value, supported);
  const id = `field-${name}`;

  function append(scope: string) {
    const parts = value.split(/\s+/).filter(Boolean);
    if (!parts.includes(scope)) setValue([...parts, scope].join(' '));
  }

  return (
    <div className="space-y-2">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      {/* The server's errors are linked like those of components/ui/field.tsx: aria-invalid and aria-describedby. */}
      <textarea
        id={id}
        name={name}
        rows={2}
        value={value}
        onChange={(e) => setValue(e.target.value)}
        aria-invalid={errors?.length ? true : undefined}
        aria-describedby={errors?.length ? `${id}-error` : undefined}
        className="block w-full rounded-md border border-slate-300 px-3 py-1.5 font-mono text-xs aria-invalid:border-red-600"
      />
      {errors?.length ? (
        <p id={`${id}-error`} role="alert" className="text-xs text-red-700">
          {errors.join(' ')}
        </p>
      ) : null}
      <div className="flex flex-wrap items-end gap-2 rounded-md border border-slate-200 bg-slate-50 p-2 text-xs" aria-label="Scope picker" role="group">
        <select aria-label="Context" value={context} onChange={(e) => setContext(e.target.value as typeof context)} className="rounded border px-1 py-0.5">
          <option>patient</option>
          <option>user</option>
          <option>system</option>
        </select>
        <input aria-label="Resource type" list={`${id}-resources`} value={resource} onChange={(e) => setResource(e.target.value.trim())} className="w-32 rounded border px-1 py-0.5" />
        <datalist id={`${id}-resources`}>
          <option value="*" />
          {COMMON_FHIR_RESOURCES.map((r) => (
            <option key={r} value={r} />
          ))}
        </datalist>
        {INTERACTIONS.map((i) => (
          <label key={i} className="flex items-center gap-0.5">
            <input
              type="checkbox"
              aria-label={INTERACTION_NAMES[i]}
              checked={interactions.includes(i)}
              onChange={(e) => setInteractions((prev) => (e.target.checked ? INTERACTIONS.filter((x) => x === i || prev.includes(x)) : prev.filter((x) => x !== i)))}
            />
            {i}
          </label>
        ))}
        <select aria-label="Scope version" value={version} onChange={(e) => setVersion(e.target.value as 'v1' | 'v2')} className="rounded border px-1 py-0.5">
          <option value="v2">v2 (.rs)</option>
          <option value="v1">v1 (.read)</option>
        </select>
        <Button
          variant="secondary"
          onClick={() => {
            // An empty resource is asked for, never read as * (every resource).
            const scope = resource === '' ? null : formatScope({ context, resource, interactions, version });
            if (!scope) return setPickerError(pickerProblem(resource, interactions, version) ?? 'These choices do not make a SMART scope.');
            setPickerError(null);
            append(scope);
          }}
        >
          Add scope
        </Button>
        <span className="mx-1 text-slate-400">|</span>
        {SMART_NON_RESOURCE_SCOPES.map((s) => (
          <Button key={s} variant="ghost" onClick={() => append(s)}>
            + {s}
          </Button>
        ))}
      </div>
      {/* Always mounted, so a screen reader hears the message when it appears. */}
      <p role="status" aria-live="polite" className="text-xs text-red-700">
        {pickerError}
      </p>
      {findings.length ? (
        <ul className="space-y-0.5 text-xs" aria-label="Scope findings">
          {findings.map((f, i) => (
            <li key={i} className={f.severity === 'error' ? 'text-red-700' : 'text-amber-800'}>
              <code>{f.scope}</code>: {f.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
