'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useMemo, useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert, Badge, Card } from '@/components/ui/card';
import { SelectField, TextAreaField, TextField } from '@/components/ui/field';
import type { ActionError } from '@/lib/actions/define-action';
import { AddIssuerForm } from '../../health-systems/_components/add-issuer-form';
import { previewRegistrationAction, previewUdapStatementAction, registerAction } from '../actions';

type IssuerOption = { id: string; healthSystemId: string; healthSystemName: string; environment: string; label: string; canRegister: boolean };
type AppOption = { id: string; name: string; version: number; environments: string[] };
type Preview = Extract<Awaited<ReturnType<typeof previewRegistrationAction>>, { ok: true }>['data'];
type UdapPreview = Extract<Awaited<ReturnType<typeof previewUdapStatementAction>>, { ok: true }>['data'];
type StatementMode = 'none' | 'sign' | 'paste' | 'udap';

export function OnboardingWizard({ issuers, apps }: { issuers: IssuerOption[]; apps: AppOption[] }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [issuerId, setIssuerId] = useState('');
  const [appId, setAppId] = useState(apps[0]?.id ?? '');
  const app = apps.find((a) => a.id === appId);
  const [environment, setEnvironment] = useState(app?.environments[0] ?? '');
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<ActionError | null>(null);
  const [operationId, setOperationId] = useState<string | null>(null);
  const [statementMode, setStatementMode] = useState<StatementMode>('none');
  const [previewKey, setPreviewKey] = useState(0);
  const [udapPreview, setUdapPreview] = useState<UdapPreview | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [addingIssuer, setAddingIssuer] = useState<string | null>(null);
  // One key per form: a double click or a retry after a lost response cannot register twice.
  const [idempotencyKey, setIdempotencyKey] = useState(() => crypto.randomUUID());
  const systems = useMemo(() => [...new Map(issuers.map((i) => [i.healthSystemId, i.healthSystemName])).entries()], [issuers]);

  function overridesFrom(form: HTMLFormElement) {
    const data = new FormData(form);
    const get = (k: string) => (data.get(k) === null ? undefined : String(data.get(k)));
    return {
      clientName: get('clientName') || undefined,
      redirectUris: get('redirectUris'),
      scope: get('scope'),
      tokenEndpointAuthMethod: (get('tokenEndpointAuthMethod') || undefined) as 'private_key_jwt' | undefined,
    };
  }

  function runPreview(form: HTMLFormElement | null, mode: StatementMode = statementMode) {
    if (!issuerId || !appId || !environment) return;
    startTransition(async () => {
      const overrides = form && preview ? overridesFrom(form) : undefined;
      const result = await previewRegistrationAction({ issuerId, appId, environment, overrides });
      if (!result.ok) {
        setError(result.error);
        setFieldErrors(result.fieldErrors ?? {});
        return;
      }
      setError(null);
      setFieldErrors({});
      setOperationId(null);
      setPreview(result.data);
      // A prefill replaces what was typed: the metadata fields are uncontrolled, so remount them
      // with the profile's values ("Check again" keeps the typed values, which it sent).
      if (!overrides) setPreviewKey((k) => k + 1);
      // Epic takes no statement (the select is disabled there); an issuer that publishes UDAP
      // metadata, with an app that has a certificate: UDAP is the natural choice.
      const next = result.data.mode === 'epic' ? 'none' : !preview && mode === 'none' && result.data.udap.advertised && result.data.udap.certificate ? 'udap' : mode;
      setStatementMode(next);
      await loadUdapPreview(next, overrides);
    });
  }

  /** The decoded statement Register would send (signed server-side; only header and claims come back). */
  async function loadUdapPreview(mode: StatementMode, overrides?: ReturnType<typeof overridesFrom>) {
    if (mode !== 'udap') return setUdapPreview(null);
    const result = await previewUdapStatementAction({ issuerId, appId, environment, overrides });
    if (!result.ok) {
      setUdapPreview(null);
      setError(result.error);
      setFieldErrors(result.fieldErrors ?? {});
      return;
    }
    setUdapPreview(result.data);
  }

  return (
    <div className="space-y-6">
      <Card title="Add an issuer first?">
        <SelectField label="Add an issuer to" name="_addTo" value={addingIssuer ?? ''} onChange={(e) => setAddingIssuer(e.target.value || null)}>
          <option value="">(not now: the issuer is already in Registrar)</option>
          {systems.map(([id, name]) => (
            <option key={id} value={id}>
              {name}
            </option>
          ))}
        </SelectField>
        {addingIssuer ? (
          <div className="mt-3 rounded border border-slate-200 p-3">
            <AddIssuerForm
              healthSystemId={addingIssuer}
              onAdded={(id) => {
                setAddingIssuer(null);
                setIssuerId(id);
                // The prefilled request was built for the issuer chosen before: build it again for this one.
                setPreview(null);
                setUdapPreview(null);
                setStatementMode('none');
                router.refresh();
              }}
            />
          </div>
        ) : null}
      </Card>
    <form
      aria-label="Onboard a hospital"
      className="space-y-6"
      onSubmit={(event) => {
        event.preventDefault();
        const form = event.currentTarget;
        const data = new FormData(form);
        startTransition(async () => {
          const result = await registerAction({
            issuerId,
            appId,
            environment,
            overrides: overridesFrom(form),
            initialAccessToken: String(data.get('initialAccessToken') ?? ''),
            softwareStatement: statementMode === 'sign' || statementMode === 'udap' ? statementMode : statementMode === 'paste' ? String(data.get('softwareStatement') ?? '') : null,
            idempotencyKey,
          });
          // Write-only: sent once, never kept in the page (a retry needs it pasted again).
          const tokenInput = form.elements.namedItem('initialAccessToken');
          if (tokenInput instanceof HTMLInputElement) tokenInput.value = '';
          if (!result.ok) {
            setError(result.error);
            setOperationId(result.operationId ?? null);
            setFieldErrors(result.fieldErrors ?? {});
            // A definite refusal can be corrected and resent; an unknown outcome keeps its key.
            if (result.error.code !== 'NEEDS_RECOVERY' && !/cannot tell whether/.test(result.error.message)) setIdempotencyKey(crypto.randomUUID());
            return;
          }
          router.push(`/registrations/${result.data.registrationId}?created=1`);
        });
      }}
    >
      <Card title="1. Hospital authorization server">
        <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
          <SelectField label="Issuer" name="issuerId" value={issuerId} onChange={(e) => (setIssuerId(e.target.value), setPreview(null))} errors={fieldErrors.issuerId}>
            <option value="">Choose…</option>
            {systems.map(([id, name]) => (
              <optgroup key={id} label={name}>
                {issuers
                  .filter((i) => i.healthSystemId === id)
                  .map((i) => (
                    <option key={i.id} value={i.id} disabled={!i.canRegister}>
                      {i.label} ({i.environment}){i.canRegister ? '' : ' — no registration endpoint'}
                    </option>
                  ))}
              </optgroup>
            ))}
          </SelectField>
        </div>
      </Card>

      <Card title="2. App and environment">
        <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
          <SelectField label="App" name="appId" value={appId} onChange={(e) => (setAppId(e.target.value), setEnvironment(apps.find((a) => a.id === e.target.value)?.environments[0] ?? ''), setPreview(null))} errors={fieldErrors.appId}>
            {apps.length === 0 ? <option value="">Create an app first</option> : null}
            {apps.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name} (v{a.version})
              </option>
            ))}
          </SelectField>
          <SelectField label="Environment" name="environment" value={environment} onChange={(e) => (setEnvironment(e.target.value), setPreview(null))} errors={fieldErrors.environment}>
            {app?.environments.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </SelectField>
        </div>
        <div className="mt-3">
          <Button variant="secondary" disabled={pending || !issuerId || !appId} onClick={() => runPreview(null)}>
            Prefill from the app profile
          </Button>
        </div>
      </Card>

      {preview ? (
        <>
          <Card title="3. Metadata">
            {preview.adaptations.length ? (
              <div className="mb-3">
                <p className="text-sm font-medium">Adapted to this issuer:</p>
                <ul className="text-sm" aria-label="Adaptations">
                  {preview.adaptations.map((a, i) => (
                    <li key={i}>
                      <Badge tone="warn">{a.field}</Badge> {JSON.stringify(a.from)} → {JSON.stringify(a.to)} — {a.reason}
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
            {preview.mode === 'epic' ? (
              <Alert tone="info">Epic registration: Registrar sends exactly software_id and jwks with your initial access token. No secret and no management are expected.</Alert>
            ) : (
              <div key={previewKey} className="grid grid-cols-1 gap-3 md:grid-cols-2">
                <TextField label="Client name" name="clientName" defaultValue={String(preview.request.client_name ?? '')} errors={fieldErrors.clientName} />
                <SelectField label="Token endpoint auth method" name="tokenEndpointAuthMethod" defaultValue={preview.authMethod} errors={fieldErrors.tokenEndpointAuthMethod ?? fieldErrors.token_endpoint_auth_method}>
                  {['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'].map((m) => (
                    <option key={m} value={m} disabled={preview.issuerAuthMethods.length > 0 && !preview.issuerAuthMethods.includes(m)}>
                      {m}
                    </option>
                  ))}
                </SelectField>
                <TextAreaField label="Redirect URIs" name="redirectUris" rows={3} defaultValue={((preview.request.redirect_uris as string[]) ?? []).join('\n')} errors={fieldErrors.redirect_uris ?? fieldErrors.redirectUris} />
                <TextAreaField label="Scope" name="scope" rows={3} defaultValue={String(preview.request.scope ?? '')} errors={fieldErrors.scope} />
              </div>
            )}
            <Findings preview={preview} />
            <Button variant="secondary" className="mt-3" disabled={pending} onClick={(e) => runPreview(e.currentTarget.form)}>
              Check again
            </Button>
          </Card>

          <Card title="4. Initial access token or software statement">
            <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
              <TextField
                label={preview.needsInitialAccessToken ? 'Initial access token (required)' : 'Initial access token (optional)'}
                name="initialAccessToken"
                type="password"
                autoComplete="off"
                required={preview.needsInitialAccessToken}
                hint="Sent once as a bearer token; never stored."
                errors={fieldErrors.initialAccessToken}
              />
              <div>
                <SelectField
                  label="Software statement"
                  name="softwareStatementMode"
                  value={statementMode}
                  disabled={preview.mode === 'epic'}
                  onChange={(e) => {
                    const mode = e.target.value as StatementMode;
                    const form = e.currentTarget.form;
                    setStatementMode(mode);
                    startTransition(() => loadUdapPreview(mode, form ? overridesFrom(form) : undefined));
                  }}
                  errors={statementMode !== 'paste' ? fieldErrors.softwareStatement : undefined}
                >
                  <option value="none">none</option>
                  <option value="sign">sign one with the app’s key</option>
                  <option value="paste">paste a signed statement</option>
                  <option value="udap">UDAP: sign with the app’s client certificate{preview.udap.advertised ? ' (this issuer publishes UDAP metadata)' : ''}</option>
                </SelectField>
                {statementMode === 'udap' && !preview.udap.certificate ? (
                  <p className="mt-1 text-xs text-amber-800">
                    The app has no UDAP certificate for {environment}: <Link className="underline" href={`/apps/${appId}`}>upload one on the app’s page</Link>.
                  </p>
                ) : null}
                {statementMode === 'paste' ? (
                  <TextAreaField label="Signed statement (when pasting)" name="softwareStatement" rows={2} errors={fieldErrors.softwareStatement ?? fieldErrors.software_statement} />
                ) : null}
              </div>
            </div>
          </Card>

          <Card title="5. Review what will be sent">
            {statementMode === 'udap' ? (
              udapPreview ? (
                <UdapStatementPreview preview={udapPreview} />
              ) : (
                <p className="text-sm text-slate-600">The UDAP statement appears here once it can be built.</p>
              )
            ) : (
              <>
                <p className="mb-2 text-sm text-slate-600">
                  POST {preview.registrationEndpoint} · {preview.mode === 'epic' ? 'Epic mode' : 'RFC 7591'} · secrets masked
                </p>
                <pre className="max-h-80 overflow-auto rounded bg-slate-50 p-3 text-xs" data-testid="request-preview">
                  {JSON.stringify(preview.request, null, 2)}
                </pre>
              </>
            )}
            <Button type="submit" className="mt-3" disabled={pending || (statementMode === 'udap' && !udapPreview)}>
              {pending ? 'Registering…' : 'Register'}
            </Button>
          </Card>
        </>
      ) : null}
      {error ? (
        <Alert>
          <strong>{error.code}</strong>: {error.message}
          {operationId ? (
            <>
              {' '}
              <Link className="font-medium underline" href={`/registrations/operations/${operationId}`}>
                See what Registrar knows about this registration and what to do
              </Link>
            </>
          ) : null}
        </Alert>
      ) : null}
    </form>
    </div>
  );
}

function Findings({ preview }: { preview: Preview }) {
  const redirect = preview.redirectUriFindings.flatMap((f) => f.findings.map((finding) => ({ uri: f.uri, ...finding })));
  if (redirect.length === 0 && preview.scopeFindings.length === 0) return <p className="mt-2 text-sm text-green-700">No findings on redirect URIs or scopes.</p>;
  return (
    <ul className="mt-3 space-y-0.5 text-xs" aria-label="Findings">
      {redirect.map((f, i) => (
        <li key={`r${i}`} className={f.severity === 'error' ? 'text-red-700' : 'text-amber-800'}>
          <code>{JSON.stringify(f.uri)}</code>: {f.message} {f.fix}
        </li>
      ))}
      {preview.scopeFindings.map((f, i) => (
        <li key={`s${i}`} className={f.severity === 'error' ? 'text-red-700' : 'text-amber-800'}>
          <code>{f.scope}</code>: {f.message}
        </li>
      ))}
    </ul>
  );
}

/** x5c entries are long base64 certificates: show their start and size, the rest is in the certificate summary. */
function abbreviatedHeader(header: Record<string, unknown>): Record<string, unknown> {
  const x5c = Array.isArray(header.x5c) ? header.x5c.map((c) => (typeof c === 'string' ? `${c.slice(0, 24)}…(${c.length} characters)` : c)) : header.x5c;
  return { ...header, ...(x5c ? { x5c } : {}) };
}

function UdapStatementPreview({ preview }: { preview: UdapPreview }) {
  const c = preview.certificate;
  return (
    <div className="space-y-3" data-testid="udap-preview">
      <p className="text-sm text-slate-600">
        POST {preview.registrationEndpoint} · UDAP · body <code>{'{"software_statement": "<signed JWT>", "udap": "1"}'}</code>
      </p>
      <p className="text-sm">
        Signed with <strong>{c.subject}</strong> (URI SAN <code>{c.sanUris[0]}</code>, valid until {c.notAfter.slice(0, 10)}, SHA-256 <code className="break-all text-xs">{c.fingerprintSha256}</code>).
      </p>
      <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
        <div>
          <p className="text-xs font-medium uppercase text-slate-500">Header</p>
          <pre className="max-h-80 overflow-auto rounded bg-slate-50 p-3 text-xs" data-testid="udap-statement-header">
            {JSON.stringify(abbreviatedHeader(preview.header), null, 2)}
          </pre>
        </div>
        <div>
          <p className="text-xs font-medium uppercase text-slate-500">Claims</p>
          <pre className="max-h-80 overflow-auto rounded bg-slate-50 p-3 text-xs" data-testid="udap-statement-claims">
            {JSON.stringify(preview.claims, null, 2)}
          </pre>
        </div>
      </div>
      <p className="text-xs text-slate-500">iat, exp (iat + 300 s) and jti are set again when you press Register; everything else is sent as shown.</p>
      {preview.adaptations.length ? (
        <ul className="text-xs text-slate-600" aria-label="UDAP adaptations">
          {preview.adaptations.map((a, i) => (
            <li key={i}>
              <Badge tone="info">{a.field}</Badge> {JSON.stringify(a.from)} → {JSON.stringify(a.to)} — {a.reason}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
