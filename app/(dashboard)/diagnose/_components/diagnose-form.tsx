import Form from 'next/form';
import Link from 'next/link';
import { Button } from '@/components/ui/button';
import { TextAreaField, TextField } from '@/components/ui/field';
import type { DiagnoseFormValues, DiagnosisMode } from '@/lib/diagnostics';

const MODES: Array<{ mode: DiagnosisMode; label: string; form: string }> = [
  { mode: 'url', label: 'Authorization URL', form: 'Diagnose an authorization URL' },
  { mode: 'client', label: 'Client id + redirect URI', form: 'Diagnose a client id and redirect URI' },
  { mode: 'pasted', label: 'Pasted registered URIs', form: 'Compare with pasted registered URIs' },
];

/** The presented URI is not trimmed: a stray space is what the server sees too, and the result explains it. */
const EXACT_HINT = 'Compared exactly as entered, as the server compares it: a space before or after it counts.';

/**
 * A GET form: the inputs become the page's query string, so every diagnosis has a link that
 * reproduces it. One form per mode, chosen with links (no client state).
 */
export function DiagnoseForm({ values, errors }: { values: DiagnoseFormValues; errors: Record<string, string[]> }) {
  const current = MODES.find((m) => m.mode === values.mode) ?? MODES[0]!;
  return (
    <div className="space-y-4">
      <nav aria-label="What to diagnose">
        <ul className="flex flex-wrap gap-1 border-b border-slate-200">
          {MODES.map((m) => {
            const active = m.mode === values.mode;
            return (
              <li key={m.mode}>
                <Link
                  href={`/diagnose?mode=${m.mode}`}
                  aria-current={active ? 'page' : undefined}
                  className={`-mb-px block rounded-t-md border px-3 py-1.5 text-sm ${active ? 'border-slate-200 border-b-white bg-white font-medium' : 'border-transparent text-slate-600 hover:text-slate-900'}`}
                >
                  {m.label}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <Form action="/diagnose" aria-label={current.form} className="space-y-3" key={values.mode}>
        <input type="hidden" name="mode" value={values.mode} />
        {values.mode === 'url' ? (
          <>
            <TextAreaField
              label="Authorization request URL"
              name="url"
              rows={4}
              defaultValue={values.url}
              errors={errors.url}
              spellCheck={false}
              placeholder="https://ehr.example.org/oauth2/authorize?response_type=code&client_id=…&redirect_uri=…"
            />
            <TextField label="Issuer (optional)" name="issuer" defaultValue={values.issuer} errors={errors.issuer} hint="Issuer or FHIR base URL, when the same client id exists at several hospitals." spellCheck={false} />
          </>
        ) : null}
        {values.mode === 'client' ? (
          <>
            <TextField label="Client id" name="client_id" defaultValue={values.clientId} errors={errors.client_id} spellCheck={false} />
            <TextField label="Redirect URI the app sends" name="redirect_uri" defaultValue={values.redirectUri} errors={errors.redirect_uri} hint={EXACT_HINT} spellCheck={false} />
            <TextField label="Issuer (optional)" name="issuer" defaultValue={values.issuer} errors={errors.issuer} hint="Issuer or FHIR base URL, when the same client id exists at several hospitals." spellCheck={false} />
          </>
        ) : null}
        {values.mode === 'pasted' ? (
          <>
            <TextField label="Redirect URI the app sends" name="redirect_uri" defaultValue={values.redirectUri} errors={errors.redirect_uri} hint={EXACT_HINT} spellCheck={false} />
            <TextAreaField
              label="Registered redirect URIs"
              name="registered"
              rows={4}
              defaultValue={values.registered}
              errors={errors.registered}
              spellCheck={false}
              placeholder={'https://app.example.com/callback\nhttp://127.0.0.1/callback'}
            />
            <p className="text-xs text-slate-500">One per line (spaces around each line are ignored), or the JSON array from the server’s answer, which keeps stray spaces inside the quotes.</p>
          </>
        ) : null}
        <Button type="submit">Diagnose</Button>
      </Form>
    </div>
  );
}
