import { ScopeDiffTable } from '@/components/diagnostics';
import { Badge, Card } from '@/components/ui/card';
import type { registrationFindings } from '@/lib/registrations/findings';

type Findings = ReturnType<typeof registrationFindings>;

/** Scope diff (requested vs granted, on SMART atoms) and redirect-URI findings for every registered URI. */
export function RegistrationFindings({ findings, requestedScope, grantedScope }: { findings: Findings; requestedScope: string; grantedScope: string }) {
  const uriFindings = findings.redirect.filter((r) => r.findings.length > 0);
  return (
    <div className="grid grid-cols-1 gap-6 lg:grid-cols-2">
      <Card title="Scopes: requested vs granted">
        <ScopeDiffTable diff={findings.scopeDiff} requested={requestedScope} granted={grantedScope} requestedLabel="Requested" grantedLabel="Granted by the server" />
      </Card>
      <Card title="Redirect URIs">
        {findings.redirect.length === 0 ? <p className="text-sm text-slate-500">None registered.</p> : null}
        <ul className="space-y-2 text-sm" data-testid="redirect-findings">
          {findings.redirect.map((r) => (
            <li key={r.index}>
              <code className="break-all">{JSON.stringify(r.uri)}</code>{' '}
              {r.findings.length === 0 ? <Badge tone="good">ok</Badge> : null}
              <ul className="ml-4 list-disc">
                {r.findings.map((f, i) => (
                  <li key={i}>
                    <Badge tone={f.severity === 'error' ? 'bad' : f.severity === 'warning' ? 'warn' : 'info'}>{f.code}</Badge> {f.message} <span className="text-slate-600">{f.fix}</span>
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
        {uriFindings.length === 0 && findings.redirect.length > 0 ? <p className="mt-2 text-xs text-slate-500">Every registered URI follows the rules.</p> : null}
      </Card>
    </div>
  );
}
