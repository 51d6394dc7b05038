'use client';

import { useEffect, useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextAreaField, TextField } from '@/components/ui/field';
import { usePageAction } from '@/components/ui/use-page-action';
import { deleteRegistrationAction, refreshRegistrationAction, syncRegistrationAction, updateRegistrationAction } from '../actions';
import { MetadataDiffTable } from './metadata-diff-table';

type Editable = { redirectUris: string[]; scope: string; clientName: string; grantTypes: string[] };
type Panel = 'none' | 'edit' | 'sync' | 'delete';
type SyncPreview = Extract<Awaited<ReturnType<typeof syncRegistrationAction>>, { ok: true }>['data'];

const KNOWN_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'];

const rotatedText = (rotated: string[]) =>
  rotated.length ? ` The hospital issued a new ${rotated.map((r) => r.replace(/_/g, ' ')).join(' and a new ')}; Registrar stored it (the old one is kept as previous).` : '';

/**
 * RFC 7592 operations for ops and admins: refresh from the hospital, edit metadata, sync to the
 * app profile (diff first), delete at the hospital (confirm first). Only rendered for writers;
 * the actions check the permission again.
 */
export function ManagementActions({
  registrationId,
  clientId,
  hospital,
  managementLost,
  editable,
}: {
  registrationId: string;
  clientId: string;
  hospital: string;
  managementLost: boolean;
  editable: Editable;
}) {
  const { pending: actionPending, message, setMessage, run, router } = usePageAction();
  // The edit form's save is pending too: while it is out, nothing else may change the registration
  // (or close the form and lose the save's error).
  const [saving, setSaving] = useState(false);
  const pending = actionPending || saving;
  const [panel, setPanel] = useState<Panel>('none');
  const [sync, setSync] = useState<SyncPreview | null>(null);

  const refresh = () =>
    run(async () => {
      setPanel('none');
      const result = await refreshRegistrationAction({ registrationId });
      if (!result.ok) return { tone: 'error', text: result.error.message };
      const drifted = result.data.drift.filter((d) => d.differs).length;
      return {
        tone: drifted ? 'warning' : 'success',
        text: `${drifted ? `Refreshed: ${drifted} field(s) differ between Registrar and the hospital.` : 'Refreshed: no drift.'}${rotatedText(result.data.rotated)}`,
      };
    });

  const previewSync = () =>
    run(async () => {
      setPanel('sync');
      setSync(null);
      const result = await syncRegistrationAction({ registrationId, confirm: false });
      if (!result.ok) return { tone: 'error', text: result.error.message };
      setSync(result.data);
      return null;
    });

  const applySync = (appVersion: number) =>
    run(async () => {
      const result = await syncRegistrationAction({ registrationId, confirm: true, appVersion });
      if (!result.ok) return { tone: 'error', text: result.error.message };
      setSync(null);
      setPanel('none');
      const fields = result.data.update?.changedFields ?? [];
      return {
        tone: 'success',
        text: `${fields.length ? `Synced to app profile v${result.data.appVersion}: ${fields.join(', ')} updated at the hospital.` : `Recorded app profile v${result.data.appVersion}; the hospital's record already matched.`}${rotatedText(result.data.update?.rotated ?? [])}`,
      };
    });

  const remove = () =>
    run(async () => {
      const result = await deleteRegistrationAction({ registrationId });
      setPanel('none');
      if (!result.ok) return { tone: 'error', text: result.error.message };
      return { tone: 'success', text: 'Deleted at the hospital. The registration is kept here with its history.' };
    });

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap gap-2">
        <Button disabled={pending} onClick={refresh}>
          {pending && panel === 'none' ? 'Working…' : 'Refresh from server'}
        </Button>
        {managementLost ? null : (
          <>
            <Button variant="secondary" disabled={pending} onClick={() => setPanel(panel === 'edit' ? 'none' : 'edit')} aria-expanded={panel === 'edit'}>
              Edit metadata
            </Button>
            <Button variant="secondary" disabled={pending} onClick={previewSync}>
              Sync to app profile
            </Button>
            <Button variant="danger" disabled={pending} onClick={() => setPanel(panel === 'delete' ? 'none' : 'delete')} aria-expanded={panel === 'delete'}>
              Delete at hospital
            </Button>
          </>
        )}
      </div>

      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}

      {panel === 'edit' ? (
        <EditMetadataForm
          registrationId={registrationId}
          editable={editable}
          pending={actionPending}
          onPendingChange={setSaving}
          onCancel={() => setPanel('none')}
          onSaved={(text) => {
            setPanel('none');
            setMessage({ tone: 'success', text });
            router.refresh();
          }}
        />
      ) : null}

      {panel === 'sync' && sync ? (
        <div className="space-y-3 rounded-md border border-slate-200 p-4" data-testid="sync-preview">
          <p className="text-sm">
            App profile v{sync.appVersion} against the hospital’s record (this registration follows v{sync.registrationAppVersion}). Key material (jwks, jwks_uri) is not synced.
          </p>
          <MetadataDiffTable
            testId="sync-diff"
            leftLabel="Server’s record"
            rightLabel={`App profile v${sync.appVersion}`}
            rows={sync.diff.map((d) => ({ field: d.field, left: d.server, right: d.profile, differs: d.differs }))}
          />
          <div className="flex gap-2">
            {sync.changedFields.length > 0 || sync.registrationAppVersion !== sync.appVersion ? (
              <Button disabled={pending} onClick={() => applySync(sync.appVersion)}>
                {sync.changedFields.length > 0 ? `Apply ${sync.changedFields.length} change(s) at the hospital` : `Record profile v${sync.appVersion}`}
              </Button>
            ) : (
              <p className="text-sm text-slate-600">Already in line with app profile v{sync.appVersion}.</p>
            )}
            <Button variant="ghost" disabled={pending} onClick={() => setPanel('none')}>
              Cancel
            </Button>
          </div>
        </div>
      ) : null}

      {panel === 'delete' ? (
        <div className="space-y-3 rounded-md border border-red-200 bg-red-50 p-4" role="group" aria-label="Confirm deletion">
          <p className="text-sm text-red-900">
            This deletes client <span className="font-mono">{clientId}</span> at {hospital} (RFC 7592). Anything still using it stops working. Registrar keeps the registration and its history, marked deleted; it cannot be undone here.
          </p>
          <div className="flex gap-2">
            <Button variant="danger" disabled={pending} onClick={remove}>
              Yes, delete at the hospital
            </Button>
            <Button variant="ghost" disabled={pending} onClick={() => setPanel('none')}>
              Cancel
            </Button>
          </div>
        </div>
      ) : null}
    </div>
  );
}

function EditMetadataForm({
  registrationId,
  editable,
  pending: parentPending,
  onPendingChange,
  onCancel,
  onSaved,
}: {
  registrationId: string;
  editable: Editable;
  pending: boolean;
  onPendingChange: (pending: boolean) => void;
  onCancel: () => void;
  onSaved: (text: string) => void;
}) {
  const [pending, startTransition] = useTransition();
  useEffect(() => onPendingChange(pending), [pending, onPendingChange]);
  // A saved form closes while its transition may still count as pending: not pending once gone.
  useEffect(() => () => onPendingChange(false), [onPendingChange]);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const grantChoices = [...new Set([...KNOWN_GRANT_TYPES, ...editable.grantTypes])];

  return (
    <form
      aria-label="Edit metadata"
      className="space-y-3 rounded-md border border-slate-200 p-4"
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        const text = (name: string) => String(form.get(name) ?? '');
        const edited = {
          redirect_uris: text('redirectUris')
            .split('\n')
            .map((s) => s.replace(/\r$/, ''))
            .filter((s) => s.trim() !== ''),
          scope: text('scope').trim(),
          client_name: text('clientName').trim(),
          grant_types: form.getAll('grantTypes').map(String),
        };
        const initial = { redirect_uris: editable.redirectUris, scope: editable.scope, client_name: editable.clientName, grant_types: editable.grantTypes };
        // Only what the person changed: every other field goes back to the hospital as it has it.
        // Grant types are a set (the boxes are drawn in their own order, the hospital's may differ).
        const same = (k: keyof typeof initial, v: unknown) =>
          k === 'grant_types' ? [...(v as string[])].sort().join(' ') === [...initial.grant_types].sort().join(' ') : JSON.stringify(v) === JSON.stringify(initial[k]);
        const changes = Object.fromEntries(Object.entries(edited).filter(([k, v]) => !same(k as keyof typeof initial, v)));
        if (Object.keys(changes).length === 0) {
          setError('Nothing changed.');
          return;
        }
        startTransition(async () => {
          setError(null);
          setFieldErrors({});
          const result = await updateRegistrationAction({ registrationId, changes });
          if (!result.ok) {
            const nested = result.fieldErrors?.changes ?? [];
            setError([result.error.message, ...nested].join(' '));
            setFieldErrors(result.fieldErrors ?? {});
            return;
          }
          const warnings = result.data.warnings.map((w) => w.message).join(' ');
          onSaved(`Updated at the hospital: ${result.data.changedFields.join(', ')}.${rotatedText(result.data.rotated)}${warnings ? ` ${warnings}` : ''}`);
        });
      }}
    >
      <p className="text-xs text-slate-600">
        The hospital’s whole record is sent back with these fields changed (RFC 7592 replaces the registration). Redirect URIs are compared exactly by the hospital.
      </p>
      <TextAreaField
        label="Redirect URIs (one per line, exact)"
        name="redirectUris"
        rows={Math.max(2, editable.redirectUris.length + 1)}
        defaultValue={editable.redirectUris.join('\n')}
        errors={fieldErrors.redirect_uris}
      />
      <TextField label="Scope" name="scope" defaultValue={editable.scope} errors={fieldErrors.scope} />
      <TextField label="Client name" name="clientName" defaultValue={editable.clientName} errors={fieldErrors.client_name} />
      <fieldset className="space-y-1">
        <legend className="text-sm font-medium text-slate-700">Grant types</legend>
        {grantChoices.map((g) => (
          <label key={g} className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="grantTypes" value={g} defaultChecked={editable.grantTypes.includes(g)} />
            <span className="font-mono text-xs">{g}</span>
          </label>
        ))}
      </fieldset>
      {error ? <Alert tone="error">{error}</Alert> : null}
      <div className="flex gap-2">
        <Button type="submit" disabled={pending || parentPending}>
          {pending ? 'Saving…' : 'Save at the hospital'}
        </Button>
        <Button variant="ghost" disabled={pending} onClick={onCancel}>
          Cancel
        </Button>
      </div>
    </form>
  );
}
