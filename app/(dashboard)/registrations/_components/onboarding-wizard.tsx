'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useMemo, useRef, useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert, Badge, Card } from '@/components/ui/card';
import { SelectField, TextAreaField, TextField } from '@/components/ui/field';
import type { ActionError } from '@/lib/actions/define-action';
import type { PreviewInput } from '@/lib/registrations/schemas';
import { AddIssuerForm } from '../../health-systems/_components/add-issuer-form';
import { previewRegistrationAction, previewUdapStatementAction, registerAction } from '../actions';
import { DiscardEditsConfirm } from './discard-edits-confirm';

type IssuerOption = { id: string; healthSystemId: string; healthSystemName: string; environment: string; label: string; canRegister: boolean };
type AppOption = { id: string; name: string; version: number; environments: string[] };
type HealthSystemOption = { id: string; name: string };
type Preview = Extract<Awaited<ReturnType<typeof previewRegistrationAction>>, { ok: true }>['data'];
type UdapPreview = Extract<Awaited<ReturnType<typeof previewUdapStatementAction>>, { ok: true }>['data'];
type StatementMode = 'none' | 'sign' | 'paste' | 'udap';
type Overrides = NonNullable<PreviewInput['overrides']>;
/** Step 3's metadata fields as typed. */
type MetadataFields = { clientName: string; tokenEndpointAuthMethod: string; redirectUris: string; scope: string };
type Target = { issuerId: string; appId: string; environment: string };
/** What the shown preview was built from. Register sends exactly this, so it sends what step 5 shows. */
type Checked = { target: Target; fields: MetadataFields; overrides: Overrides | undefined; reviewedVersions: Preview['reviewedVersions'] };
/** A change that would throw the edited metadata away, waiting for the person to confirm it. */
type Switch = { kind: 'issuer' | 'app' | 'environment'; value: string; label: string } | { kind: 'prefill' };

export function OnboardingWizard({ issuers, apps, healthSystems }: { issuers: IssuerOption[]; apps: AppOption[]; healthSystems: HealthSystemOption[] }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [issuerId, setIssuerId] = useState('');
  const [appId, setAppId] = useState(apps[0]?.id ?? '');
  const app = apps.find((a) => a.id === appId);
  const [environment, setEnvironment] = useState(app?.environments[0] ?? '');
  const [preview, setPreview] = useState<Preview | null>(null);
  const [fields, setFields] = useState<MetadataFields | null>(null);
  const [prefilled, setPrefilled] = useState<MetadataFields | null>(null);
  const [checked, setChecked] = useState<Checked | null>(null);
  const [pendingSwitch, setPendingSwitch] = useState<Switch | null>(null);
  const [error, setError] = useState<ActionError | null>(null);
  const [operationId, setOperationId] = useState<string | null>(null);
  const [statementMode, setStatementMode] = useState<StatementMode>('none');
  // The mode as the person has it now, for answers to requests sent before they changed it.
  const statementModeNow = useRef<StatementMode>('none');
  useEffect(() => {
    statementModeNow.current = statementMode;
  }, [statementMode]);
  // Register's own pending state: a preview or UDAP check is pending too, but is not "Registering…".
  const [registering, setRegistering] = useState(false);
  const [udapPreview, setUdapPreview] = useState<UdapPreview | null>(null);
  // Write-only inputs: the page keeps whether a token was typed and the statement's masked start, never their values.
  const [hasToken, setHasToken] = useState(false);
  const [pastedStatementMask, setPastedStatementMask] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [addingIssuer, setAddingIssuer] = useState<string | null>(null);
  // One key per form: a double click or a retry after a lost response cannot register twice.
  const [idempotencyKey, setIdempotencyKey] = useState(() => crypto.randomUUID());
  // Bumped when the preview is thrown away: an answer to a request sent before it is ignored.
  const generation = useRef(0);
  const issuerSystems = useMemo(() => [...new Map(issuers.map((i) => [i.healthSystemId, i.healthSystemName])).entries()], [issuers]);
  const stale = Boolean(fields && checked && !sameFields(fields, checked.fields));
  const edited = Boolean(fields && prefilled && !sameFields(fields, prefilled));

  function runPreview(kind: 'prefill' | 'check', mode: StatementMode = statementMode) {
    if (!issuerId || !appId || !environment) return;
    const target = { issuerId, appId, environment };
    // "Check again" sends the values as typed now; a prefill starts from the app profile.
    const sentFields = kind === 'check' && preview && fields ? fields : null;
    const overrides = sentFields && preview ? overridesOf(sentFields, preview.mode) : undefined;
    const gen = generation.current;
    startTransition(async () => {
      const result = await previewRegistrationAction({ ...target, overrides });
      if (gen !== generation.current) return;
      if (!result.ok) {
        setError(result.error);
        setFieldErrors(result.fieldErrors ?? {});
        return;
      }
      setError(null);
      setFieldErrors({});
      setOperationId(null);
      setPreview(result.data);
      if (sentFields) {
        setChecked({ target, fields: sentFields, overrides, reviewedVersions: result.data.reviewedVersions });
      } else {
        const initial = fieldsFrom(result.data);
        setFields(initial);
        setPrefilled(initial);
        setChecked({ target, fields: initial, overrides: undefined, reviewedVersions: result.data.reviewedVersions });
      }
      // Epic takes no statement (the select is disabled there). On the first prefill: an issuer that
      // publishes UDAP metadata, with an app that has a certificate, makes UDAP the natural choice;
      // otherwise the app profile's "sign a software statement" choice.
      const first = !preview && mode === 'none';
      // A mode the person chose while this check was out is theirs: kept (a pasted statement with it).
      const changedMeanwhile = statementModeNow.current !== mode;
      const next =
        result.data.mode === 'epic'
          ? 'none'
          : changedMeanwhile
            ? statementModeNow.current
            : first && result.data.udap.advertised && result.data.udap.certificate
              ? 'udap'
              : first && result.data.signStatementByDefault
                ? 'sign'
                : mode;
      setStatementMode(next);
      await loadUdapPreview(next, target, overrides, gen);
    });
  }

  /** The decoded statement Register would send (signed server-side; only header and claims come back). */
  async function loadUdapPreview(mode: StatementMode, target: Target, overrides: Overrides | undefined, gen: number) {
    if (mode !== 'udap') return setUdapPreview(null);
    const result = await previewUdapStatementAction({ ...target, overrides });
    if (gen !== generation.current) return;
    if (!result.ok) {
      setUdapPreview(null);
      setError(result.error);
      setFieldErrors(result.fieldErrors ?? {});
      return;
    }
    setUdapPreview(result.data);
  }

  function discardPreview() {
    generation.current += 1;
    setPreview(null);
    setFields(null);
    setPrefilled(null);
    setChecked(null);
    setUdapPreview(null);
    setHasToken(false);
    setPastedStatementMask('');
  }

  function applySwitch(change: Switch) {
    setPendingSwitch(null);
    if (change.kind === 'prefill') return runPreview('prefill');
    discardPreview();
    if (change.kind === 'issuer') {
      setIssuerId(change.value);
      // The statement was chosen for the issuer before: the next prefill chooses again (UDAP where it is natural).
      setStatementMode('none');
    } else if (change.kind === 'app') {
      setAppId(change.value);
      setEnvironment(apps.find((a) => a.id === change.value)?.environments[0] ?? '');
    } else {
      setEnvironment(change.value);
    }
  }

  /** Edited metadata is not thrown away without asking (see DiscardEditsConfirm for why it is not carried over). */
  function requestSwitch(change: Switch) {
    if (edited) setPendingSwitch(change);
    else applySwitch(change);
  }

  const updateField = (key: keyof MetadataFields) => (event: { target: { value: string } }) => {
    const value = event.target.value;
    setFields((current) => (current ? { ...current, [key]: value } : current));
  };

  const confirmDiscard = pendingSwitch ? (
    <DiscardEditsConfirm
      question={
        pendingSwitch.kind === 'prefill'
          ? 'Prefill again? The metadata you edited in step 3 is replaced by the app profile’s values.'
          : `Switch the ${pendingSwitch.kind} to ${pendingSwitch.label}? The metadata you edited in step 3 was prefilled for the current ${pendingSwitch.kind}: switching discards your edits, and you prefill again for the new one.`
      }
      confirmLabel={pendingSwitch.kind === 'prefill' ? 'Discard my edits and prefill' : 'Discard my edits and switch'}
      onConfirm={() => applySwitch(pendingSwitch)}
      onCancel={() => setPendingSwitch(null)}
    />
  ) : null;

  return (
    <div className="space-y-6">
      <Card title="Add an issuer first?">
        {healthSystems.length === 0 ? (
          <p className="text-sm text-slate-700">
            No health systems yet: <Link className="font-medium underline" href="/health-systems">add a health system</Link>, then come back to add its issuer here.
          </p>
        ) : (
          <SelectField label="Add an issuer to" name="_addTo" value={addingIssuer ?? ''} onChange={(e) => setAddingIssuer(e.target.value || null)}>
            <option value="">(not now: the issuer is already in Registrar)</option>
            {healthSystems.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </SelectField>
        )}
        {addingIssuer ? (
          <div className="mt-3 rounded border border-slate-200 p-3">
            <AddIssuerForm
              healthSystemId={addingIssuer}
              onAdded={(id) => {
                setAddingIssuer(null);
                // The prefilled request was built for the issuer chosen before: build it again for this one.
                requestSwitch({ kind: 'issuer', value: id, label: 'the issuer you just added' });
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
        if (!checked || stale) return;
        const form = event.currentTarget;
        const data = new FormData(form);
        setRegistering(true);
        startTransition(async () => {
          let result: Awaited<ReturnType<typeof registerAction>>;
          try {
            result = await registerAction({
              ...checked.target,
              overrides: checked.overrides,
              reviewedVersions: checked.reviewedVersions,
              initialAccessToken: String(data.get('initialAccessToken') ?? ''),
              softwareStatement: statementMode === 'sign' || statementMode === 'udap' ? statementMode : statementMode === 'paste' ? String(data.get('softwareStatement') ?? '') : null,
              idempotencyKey,
            });
          } catch {
            // The answer was lost (network, proxy, a restart): the request may have reached the
            // hospital. The key stays, so Register again resumes this submission, never a second one.
            setError({ code: 'UPSTREAM_UNREACHABLE', message: 'Registrar’s answer did not arrive, so this page cannot tell whether the registration was made. Press Register again: it resumes this same submission and never registers a second client.' });
            return;
          } finally {
            setRegistering(false);
            // Write-only: sent once, never kept in the page (a retry needs it pasted again).
            const tokenInput = form.elements.namedItem('initialAccessToken');
            if (tokenInput instanceof HTMLInputElement) tokenInput.value = '';
            setHasToken(false);
          }
          if (!result.ok) {
            setError(result.error);
            setOperationId(result.operationId ?? null);
            setFieldErrors(result.fieldErrors ?? {});
            // Only a submission that wrote nothing, or that the hospital definitely refused, may be
            // corrected and resent under a new key; any other outcome keeps it (registerAction).
            if (result.submission === 'none' || result.submission === 'failed') setIdempotencyKey(crypto.randomUUID());
            return;
          }
          router.push(`/registrations/${result.data.registrationId}?created=1`);
        });
      }}
    >
      <Card title="1. Hospital authorization server">
        <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
          <SelectField
            label="Issuer"
            name="issuerId"
            value={issuerId}
            onChange={(e) => requestSwitch({ kind: 'issuer', value: e.target.value, label: e.target.selectedOptions[0]?.text ?? 'another issuer' })}
            errors={fieldErrors.issuerId}
            hint={issuers.length === 0 ? 'No issuers yet: add one under “Add an issuer first?” above.' : undefined}
          >
            <option value="">Choose…</option>
            {issuerSystems.map(([id, name]) => (
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
        {pendingSwitch?.kind === 'issuer' ? confirmDiscard : null}
      </Card>

      <Card title="2. App and environment">
        <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
          <SelectField
            label="App"
            name="appId"
            value={appId}
            onChange={(e) => requestSwitch({ kind: 'app', value: e.target.value, label: e.target.selectedOptions[0]?.text ?? 'another app' })}
            errors={fieldErrors.appId}
          >
            {apps.length === 0 ? <option value="">Create an app first</option> : null}
            {apps.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name} (v{a.version})
              </option>
            ))}
          </SelectField>
          <SelectField label="Environment" name="environment" value={environment} onChange={(e) => requestSwitch({ kind: 'environment', value: e.target.value, label: e.target.value })} errors={fieldErrors.environment}>
            {app?.environments.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </SelectField>
        </div>
        {apps.length === 0 ? (
          <p className="mt-2 text-sm text-slate-700">
            No apps yet: <Link className="font-medium underline" href="/apps/new">create an app</Link>, then come back to register it.
          </p>
        ) : null}
        {pendingSwitch && pendingSwitch.kind !== 'issuer' ? confirmDiscard : null}
        <div className="mt-3">
          <Button variant="secondary" disabled={pending || !issuerId || !appId} onClick={() => requestSwitch({ kind: 'prefill' })}>
            Prefill from the app profile
          </Button>
        </div>
      </Card>

      {preview && fields ? (
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
              <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
                <TextField label="Client name" name="clientName" value={fields.clientName} onChange={updateField('clientName')} errors={fieldErrors.clientName} />
                <SelectField
                  label="Token endpoint auth method"
                  name="tokenEndpointAuthMethod"
                  value={fields.tokenEndpointAuthMethod}
                  onChange={updateField('tokenEndpointAuthMethod')}
                  errors={fieldErrors.tokenEndpointAuthMethod ?? fieldErrors.token_endpoint_auth_method}
                >
                  {['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'].map((m) => (
                    <option key={m} value={m} disabled={preview.issuerAuthMethods.length > 0 && !preview.issuerAuthMethods.includes(m)}>
                      {m}
                    </option>
                  ))}
                </SelectField>
                <TextAreaField label="Redirect URIs" name="redirectUris" rows={3} value={fields.redirectUris} onChange={updateField('redirectUris')} errors={fieldErrors.redirect_uris ?? fieldErrors.redirectUris} />
                <TextAreaField label="Scope" name="scope" rows={3} value={fields.scope} onChange={updateField('scope')} errors={fieldErrors.scope} />
              </div>
            )}
            {stale ? <p className="mt-3 text-xs text-amber-800">Changed since the last check: the findings below are for the values checked before.</p> : null}
            <Findings preview={preview} />
            <Button variant="secondary" className="mt-3" disabled={pending} onClick={() => runPreview('check')}>
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
                onChange={(e) => setHasToken(e.target.value.trim() !== '')}
              />
              <div>
                <SelectField
                  label="Software statement"
                  name="softwareStatementMode"
                  value={statementMode}
                  disabled={preview.mode === 'epic'}
                  onChange={(e) => {
                    const mode = e.target.value as StatementMode;
                    setStatementMode(mode);
                    setPastedStatementMask('');
                    const gen = generation.current;
                    startTransition(() => loadUdapPreview(mode, checked?.target ?? { issuerId, appId, environment }, checked?.overrides, gen));
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
                  <TextAreaField
                    label="Signed statement (when pasting)"
                    name="softwareStatement"
                    rows={2}
                    errors={fieldErrors.softwareStatement ?? fieldErrors.software_statement}
                    onChange={(e) => setPastedStatementMask(e.target.value ? maskStatement(e.target.value) : '')}
                  />
                ) : null}
              </div>
            </div>
          </Card>

          <Card title="5. Review what will be sent">
            {stale ? (
              <Alert tone="warning">
                <span data-testid="review-stale">Changed since the last check — press “Check again” in step 3 to review what will be sent. Register stays off until then.</span>
              </Alert>
            ) : statementMode === 'udap' ? (
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
                  {JSON.stringify(bodyToSend(preview.request, statementMode, pastedStatementMask), null, 2)}
                </pre>
              </>
            )}
            <p className="mt-2 text-xs text-slate-600" data-testid="review-token">
              {hasToken
                ? 'Authorization: Bearer with the initial access token you entered (sent once; not shown, never stored).'
                : preview.needsInitialAccessToken
                  ? 'No initial access token entered yet: this server needs one (step 4).'
                  : 'No initial access token: none entered in step 4.'}
            </p>
            <Button type="submit" className="mt-3" disabled={pending || stale || !checked || (statementMode === 'udap' && !udapPreview)}>
              {registering ? 'Registering…' : pending ? 'Checking…' : 'Register'}
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

function fieldsFrom(preview: Preview): MetadataFields {
  return {
    clientName: String(preview.request.client_name ?? ''),
    tokenEndpointAuthMethod: preview.authMethod,
    redirectUris: ((preview.request.redirect_uris as string[] | undefined) ?? []).join('\n'),
    scope: String(preview.request.scope ?? ''),
  };
}

/** The fields as the registration's overrides; Epic's body is exactly {software_id, jwks}, so it has none. */
function overridesOf(fields: MetadataFields, mode: Preview['mode']): Overrides | undefined {
  if (mode === 'epic') return undefined;
  return {
    clientName: fields.clientName || undefined,
    redirectUris: fields.redirectUris,
    scope: fields.scope,
    tokenEndpointAuthMethod: (fields.tokenEndpointAuthMethod || undefined) as Overrides['tokenEndpointAuthMethod'],
  };
}

/** Exact comparison: every change, even whitespace the server would ignore, needs a new check. */
function sameFields(a: MetadataFields, b: MetadataFields): boolean {
  return a.clientName === b.clientName && a.tokenEndpointAuthMethod === b.tokenEndpointAuthMethod && a.redirectUris === b.redirectUris && a.scope === b.scope;
}

/** A pasted statement as Registrar records it (the server's maskRequest): its start, then a marker. */
function maskStatement(statement: string): string {
  return `${statement.slice(0, 16)}…(signed JWT)`;
}

/** The body Register sends, masked as it is recorded: the checked metadata plus the statement chosen in step 4. */
function bodyToSend(request: Record<string, unknown>, mode: StatementMode, pastedStatementMask: string): Record<string, unknown> {
  if (mode === 'sign') return { ...request, software_statement: '(signed with the app’s key when you press Register)' };
  if (mode === 'paste') return { ...request, software_statement: pastedStatementMask || '(paste the signed statement in step 4)' };
  return request;
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
