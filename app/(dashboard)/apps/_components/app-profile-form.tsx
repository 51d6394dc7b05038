'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert, Card } from '@/components/ui/card';
import { SelectField, TextAreaField, TextField } from '@/components/ui/field';
import type { AppProfile, EnvironmentProfile } from '@/db/schema';
import { environmentErrors, environmentNameSchema, unplacedEnvironmentErrors, type EnvironmentErrors } from '@/lib/apps/environments';
import { validateRedirectUris } from '@/lib/redirect-uris';
import { createAppAction, updateAppAction } from '../actions';
import { ScopeField } from './scope-picker';

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'];
const blankEnvironment = (): EnvironmentProfile => ({
  redirectUris: [],
  grantTypes: ['authorization_code'],
  responseTypes: ['code'],
  tokenEndpointAuthMethod: 'private_key_jwt',
  scope: 'openid fhirUser launch/patient patient/*.rs',
  keyAlgorithm: 'ES384',
});

export function AppProfileForm({ appId, version, initial }: { appId?: string; version?: number; initial?: AppProfile }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [envNames, setEnvNames] = useState<string[]>(initial ? Object.keys(initial.environments) : ['production']);
  const [newEnv, setNewEnv] = useState('');
  const [newEnvErrors, setNewEnvErrors] = useState<string[] | undefined>();
  const addEnvironment = () => {
    // Checked here, where it was typed: a name the schema refuses would otherwise get a card, and its error only on saving.
    const parsed = environmentNameSchema.safeParse(newEnv);
    if (!parsed.success) return setNewEnvErrors(parsed.error.issues.map((issue) => issue.message));
    if (envNames.includes(parsed.data)) return setNewEnvErrors([`This app already has an environment named ${parsed.data}.`]);
    setEnvNames([...envNames, parsed.data]);
    setNewEnv('');
    setNewEnvErrors(undefined);
  };
  const [saved, setSaved] = useState<string | null>(null);
  const unplacedErrors = unplacedEnvironmentErrors(fieldErrors, envNames);

  function collect(form: FormData) {
    const environments: Record<string, unknown> = {};
    for (const name of envNames) {
      environments[name] = {
        redirectUris: String(form.get(`${name}.redirectUris`) ?? ''),
        // The boxes ticked and the other grant types typed below them (kept, never dropped).
        grantTypes: [...form.getAll(`${name}.grantTypes`).map(String), ...String(form.get(`${name}.otherGrantTypes`) ?? '').split('\n')].map((g) => g.trim()).filter(Boolean),
        responseTypes: String(form.get(`${name}.responseTypes`) ?? 'code'),
        tokenEndpointAuthMethod: String(form.get(`${name}.tokenEndpointAuthMethod`) ?? ''),
        scope: String(form.get(`${name}.scope`) ?? ''),
        keyAlgorithm: String(form.get(`${name}.keyAlgorithm`) ?? 'ES384'),
        applicationType: String(form.get(`${name}.applicationType`) ?? '') || undefined,
        epicClientId: String(form.get(`${name}.epicClientId`) ?? ''),
      };
    }
    return {
      name: String(form.get('name') ?? ''),
      softwareId: String(form.get('softwareId') ?? ''),
      softwareVersion: String(form.get('softwareVersion') ?? ''),
      clientUri: String(form.get('clientUri') ?? ''),
      logoUri: String(form.get('logoUri') ?? ''),
      tosUri: String(form.get('tosUri') ?? ''),
      policyUri: String(form.get('policyUri') ?? ''),
      contacts: String(form.get('contacts') ?? ''),
      environments,
      softwareStatement: { enabled: form.get('softwareStatement') === 'on' },
    };
  }

  return (
    <form
      aria-label={appId ? 'Edit app' : 'New app'}
      className="space-y-6"
      onSubmit={(event) => {
        event.preventDefault();
        const profile = collect(new FormData(event.currentTarget));
        startTransition(async () => {
          const result = appId ? await updateAppAction({ appId, expectedVersion: version!, profile }) : await createAppAction(profile);
          if (!result.ok) {
            setError(result.error.message);
            setFieldErrors(result.fieldErrors ?? {});
            setSaved(null);
            return;
          }
          setError(null);
          setFieldErrors({});
          if (appId) {
            setSaved(`Saved as version ${result.data.version}.`);
            router.refresh();
          } else router.push(`/apps/${result.data.id}`);
        });
      }}
    >
      <Card title="Application">
        <div className="grid grid-cols-1 gap-3 md:grid-cols-3">
          <TextField label="Name" name="name" required defaultValue={initial?.name} errors={fieldErrors.name} />
          <TextField label="software_id" name="softwareId" required defaultValue={initial?.softwareId} errors={fieldErrors.softwareId} />
          <TextField label="software_version" name="softwareVersion" defaultValue={initial?.softwareVersion ?? ''} errors={fieldErrors.softwareVersion} />
          <TextField label="client_uri" name="clientUri" defaultValue={initial?.clientUri ?? ''} errors={fieldErrors.clientUri} />
          <TextField label="logo_uri" name="logoUri" defaultValue={initial?.logoUri ?? ''} errors={fieldErrors.logoUri} />
          <TextField label="tos_uri" name="tosUri" defaultValue={initial?.tosUri ?? ''} errors={fieldErrors.tosUri} />
          <TextField label="policy_uri" name="policyUri" defaultValue={initial?.policyUri ?? ''} errors={fieldErrors.policyUri} />
          <TextAreaField label="Contacts (one email per line)" name="contacts" rows={2} defaultValue={initial?.contacts.join('\n')} errors={fieldErrors.contacts} />
          <label className="flex items-center gap-2 self-end text-sm">
            <input type="checkbox" name="softwareStatement" defaultChecked={initial?.softwareStatement.enabled} /> Sign a software statement (RFC 7591 §2.3) by default: the onboarding wizard starts with “sign one with the app’s key” (ops can change it per hospital)
          </label>
        </div>
      </Card>
      {envNames.map((name) => (
        <EnvironmentFields
          key={name}
          name={name}
          initial={initial?.environments[name] ?? blankEnvironment()}
          errors={environmentErrors(fieldErrors, name)}
          onRemove={envNames.length > 1 ? () => setEnvNames(envNames.filter((n) => n !== name)) : undefined}
        />
      ))}
      <div className="flex items-end gap-2">
        <TextField
          label="Add environment"
          name="_newEnvironment"
          value={newEnv}
          errors={newEnvErrors}
          onChange={(e) => {
            setNewEnv(e.target.value.toLowerCase());
            setNewEnvErrors(undefined);
          }}
          // Enter adds the environment; it would otherwise submit the form and save a version without it.
          onKeyDown={(e) => {
            if (e.key !== 'Enter') return;
            e.preventDefault();
            addEnvironment();
          }}
          placeholder="staging"
        />
        <Button variant="secondary" onClick={addEnvironment}>
          Add
        </Button>
      </div>
      {/* Only what no environment card shows (e.g. "Add at least one environment."): each field shows its own. */}
      {unplacedErrors.length ? <Alert>{unplacedErrors.join(' ')}</Alert> : null}
      {error ? <Alert>{error}</Alert> : null}
      {saved ? <Alert tone="success">{saved}</Alert> : null}
      <Button type="submit" disabled={pending}>
        {pending ? 'Saving…' : appId ? 'Save new version' : 'Create app'}
      </Button>
    </form>
  );
}

function EnvironmentFields({ name, initial, errors, onRemove }: { name: string; initial: EnvironmentProfile; errors: EnvironmentErrors; onRemove?: () => void }) {
  const { fields } = errors;
  const grantTypesErrorId = `field-${name}.grantTypes-error`;
  const [redirects, setRedirects] = useState(initial.redirectUris.join('\n'));
  // The findings follow the application type as selected now, not as saved (http on 127.0.0.1 is fine for native only).
  const [applicationType, setApplicationType] = useState(initial.applicationType ?? '');
  const findings = validateRedirectUris(redirects.split('\n').filter((s) => s.trim() !== ''), { applicationType: applicationType === 'web' || applicationType === 'native' ? applicationType : undefined });
  return (
    <Card title={`Environment: ${name}`} actions={onRemove ? <Button variant="ghost" onClick={onRemove}>Remove</Button> : null}>
      {errors.environment.length ? <Alert>{errors.environment.join(' ')}</Alert> : null}
      <div className="grid grid-cols-1 gap-4 md:grid-cols-2">
        <div className="space-y-1">
          <TextAreaField label="Redirect URIs (one per line, exact)" name={`${name}.redirectUris`} rows={3} value={redirects} onChange={(e) => setRedirects(e.target.value)} errors={fields.redirectUris} />
          <ul className="space-y-0.5 text-xs" aria-label={`Redirect URI findings for ${name}`}>
            {findings.flatMap((f) =>
              f.findings.map((finding, i) => (
                <li key={`${f.index}-${i}`} className={finding.severity === 'error' ? 'text-red-700' : finding.severity === 'warning' ? 'text-amber-800' : 'text-slate-600'}>
                  <code>{JSON.stringify(f.uri)}</code>: {finding.message} {finding.fix}
                </li>
              )),
            )}
          </ul>
        </div>
        <ScopeField name={`${name}.scope`} label="Scopes" defaultValue={initial.scope} errors={fields.scope} />
        <SelectField label="Token endpoint auth method" name={`${name}.tokenEndpointAuthMethod`} defaultValue={initial.tokenEndpointAuthMethod} errors={fields.tokenEndpointAuthMethod}>
          <option value="private_key_jwt">private_key_jwt (recommended)</option>
          <option value="client_secret_basic">client_secret_basic</option>
          <option value="client_secret_post">client_secret_post</option>
          <option value="none">none (public client, PKCE)</option>
        </SelectField>
        <SelectField label="Key algorithm (private_key_jwt)" name={`${name}.keyAlgorithm`} defaultValue={initial.keyAlgorithm} errors={fields.keyAlgorithm}>
          <option value="ES384">ES384</option>
          <option value="RS384">RS384</option>
        </SelectField>
        <fieldset className="text-sm" aria-describedby={fields.grantTypes ? grantTypesErrorId : undefined}>
          <legend className="font-medium text-slate-700">Grant types</legend>
          {GRANT_TYPES.map((g) => (
            <label key={g} className="mr-3 inline-flex items-center gap-1">
              <input type="checkbox" name={`${name}.grantTypes`} value={g} defaultChecked={initial.grantTypes.includes(g)} /> <code className="text-xs">{g}</code>
            </label>
          ))}
          <TextAreaField
            label="Other grant types (one per line)"
            name={`${name}.otherGrantTypes`}
            rows={1}
            defaultValue={initial.grantTypes.filter((g) => !GRANT_TYPES.includes(g)).join('\n')}
            hint="Any other grant type the app uses, exactly as the hospital expects it (e.g. urn:ietf:params:oauth:grant-type:token-exchange)."
          />
          {fields.grantTypes ? (
            <p id={grantTypesErrorId} role="alert" className="text-xs text-red-700">
              {fields.grantTypes.join(' ')}
            </p>
          ) : null}
        </fieldset>
        <div className="grid grid-cols-2 gap-3">
          {/* One per line: a response type may itself contain a space ("code id_token"). */}
          <TextAreaField label="Response types (one per line)" name={`${name}.responseTypes`} rows={2} defaultValue={initial.responseTypes.join('\n')} errors={fields.responseTypes} />
          <SelectField label="Application type" name={`${name}.applicationType`} value={applicationType} onChange={(e) => setApplicationType(e.target.value)} errors={fields.applicationType}>
            <option value="">(not sent)</option>
            <option value="web">web</option>
            <option value="native">native</option>
          </SelectField>
        </div>
        <TextField label="Epic client id" name={`${name}.epicClientId`} defaultValue={initial.epicClientId ?? ''} hint="Only for Epic apps: the client id Epic assigned for this environment." errors={fields.epicClientId} />
      </div>
    </Card>
  );
}
