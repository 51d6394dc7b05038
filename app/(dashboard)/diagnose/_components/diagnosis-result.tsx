import Link from 'next/link';
import { RedirectUriHighlight, ScopeDiffTable } from '@/components/diagnostics';
import { Badge, Card } from '@/components/ui/card';
import { CopyButton } from '@/components/ui/copy-button';
import type { Candidate, CheckStatus, Diagnosis, DiagnosticFinding, Verdict } from '@/lib/diagnostics';
import { CopyLinkButton } from './copy-link-button';

const VERDICT: Record<Verdict, { title: string; tone: string; explain: (d: Diagnosis) => string }> = {
  'exact-match': {
    title: 'Exact match',
    tone: 'border-green-300 bg-green-50 text-green-900',
    explain: () => 'The redirect URI is one of the registered ones, character for character.',
  },
  'loopback-port-match': {
    title: 'Matches under the loopback port rule',
    tone: 'border-sky-300 bg-sky-50 text-sky-900',
    explain: () => 'Only the port differs, on a loopback IP (127.0.0.1 or [::1]); RFC 8252 §7.3 lets native apps pick any port there. Everything else is identical.',
  },
  'no-match': {
    title: 'No match',
    tone: 'border-red-300 bg-red-50 text-red-900',
    explain: (d) => (d.presentedRedirectUri === null ? 'The request carries no redirect_uri to compare.' : 'No registered redirect URI equals the presented one. The server compares exact strings, so it refuses the request; the differences are below.'),
  },
  'client-not-found': {
    title: 'No match: client not found',
    tone: 'border-red-300 bg-red-50 text-red-900',
    explain: () => 'There is no registration to compare with; see the findings.',
  },
};

const SEVERITY_TONE = { error: 'bad', warning: 'warn', info: 'info' } as const;
const STATUS: Record<CheckStatus, { label: string; tone: 'good' | 'bad' | 'warn' | 'neutral' }> = {
  pass: { label: 'pass', tone: 'good' },
  fail: { label: 'fail', tone: 'bad' },
  warn: { label: 'check', tone: 'warn' },
  'not-checked': { label: 'not checked', tone: 'neutral' },
};

function Findings({ findings }: { findings: DiagnosticFinding[] }) {
  if (findings.length === 0) return <p className="text-sm text-slate-600">Nothing to report.</p>;
  return (
    <ul className="divide-y divide-slate-100" data-testid="findings">
      {findings.map((f, i) => (
        <li key={i} className="py-2 text-sm" data-code={f.code} data-severity={f.severity}>
          <div className="flex flex-wrap items-center gap-2">
            <Badge tone={SEVERITY_TONE[f.severity]}>{f.severity}</Badge>
            <code className="font-mono text-xs font-semibold" data-testid="finding-code">
              {f.code}
            </code>
            <span className="text-xs text-slate-500">{f.subject}</span>
          </div>
          <p className="mt-1">{f.message}</p>
          <p className="mt-1 text-slate-700">
            <span className="font-medium">Fix: </span>
            {f.fix}
          </p>
        </li>
      ))}
    </ul>
  );
}

function RegistrationLine({ c }: { c: Candidate }) {
  const r = c.registration;
  if (!r) return <span>Pasted redirect URIs</span>;
  return (
    <span>
      <Link href={`/registrations/${r.id}`} className="font-medium underline">
        {r.healthSystemName}
      </Link>{' '}
      · {r.environment} · <span className="font-mono text-xs">{r.issuerUrl ?? ''}</span> {r.status !== 'active' ? <Badge tone="warn">{r.status}</Badge> : null}
    </span>
  );
}

function candidateVerdict(c: Candidate, presented: string | null): string {
  if (presented === null || c.comparison.candidate === null) return '—';
  if (c.comparison.match) return c.comparison.candidate === presented ? 'exact match' : 'loopback port match';
  const best = c.comparison.perCandidate.find((p) => p.uri === c.comparison.candidate);
  return `no match (${best?.distance ?? '?'} character${best?.distance === 1 ? '' : 's'} away)`;
}

export function DiagnosisResult({ diagnosis: d, shareHref }: { diagnosis: Diagnosis; shareHref: string }) {
  const v = VERDICT[d.verdict];
  const primary = d.primary;
  const otherUris = primary ? primary.comparison.perCandidate.filter((p) => p.uri !== primary.comparison.candidate) : [];
  const otherRegistrations = d.candidates.filter((c) => c !== primary);
  return (
    <div className="space-y-6" data-testid="diagnosis">
      <section aria-labelledby="verdict" className={`rounded-lg border-2 p-5 ${v.tone}`}>
        <p className="text-xs font-medium uppercase tracking-wide opacity-80">Verdict</p>
        <h2 id="verdict" className="text-3xl font-bold tracking-tight" data-testid="verdict" data-verdict={d.verdict}>
          {v.title}
        </h2>
        <p className="mt-1 text-sm">{v.explain(d)}</p>
        <div className="mt-3 flex flex-wrap items-center gap-3 text-sm">
          <a href={shareHref} className="font-medium underline" data-testid="share-link">
            Link to this diagnosis
          </a>
          <CopyLinkButton href={shareHref} />
          <span className="text-xs opacity-70">Diagnosed {d.diagnosedAt.replace('T', ' ').slice(0, 19)} UTC</span>
        </div>
      </section>

      {primary && d.presentedRedirectUri !== null ? (
        <Card title="Redirect URI">
          <div className="space-y-3">
            <p className="text-sm">
              <span className="text-slate-500">Closest registered URI, from </span>
              <RegistrationLine c={primary} />
            </p>
            {primary.comparison.candidate === null ? (
              <p className="text-sm">No redirect URIs are registered.</p>
            ) : (
              <RedirectUriHighlight segments={primary.comparison.highlight} registeredLabel="Registered (closest)" presentedLabel="Presented by the app" />
            )}
            <div className="flex flex-wrap gap-2 text-xs">
              {primary.comparison.candidate !== null ? <CopyButton text={primary.comparison.candidate} label="Copy registered URI" /> : null}
              <CopyButton text={d.presentedRedirectUri} label="Copy presented URI" />
            </div>
          </div>
        </Card>
      ) : null}

      <Card title={`Findings (${d.findings.length})`}>
        <Findings findings={d.findings} />
      </Card>

      {d.checks.length > 0 ? (
        <Card title="Request checks">
          <table className="min-w-full text-sm" data-testid="checks">
            <thead className="text-left text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1 pr-3">Parameter</th>
                <th className="py-1 pr-3">Result</th>
                <th className="py-1 pr-3">Presented</th>
                <th className="py-1 pr-3">Expected</th>
                <th className="py-1">Note</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {d.checks.map((c) => (
                <tr key={c.subject} data-check={c.subject} data-status={c.status}>
                  <th scope="row" className="py-1 pr-3 text-left font-mono text-xs font-medium">
                    {c.label}
                  </th>
                  <td className="py-1 pr-3">
                    <Badge tone={STATUS[c.status].tone}>{STATUS[c.status].label}</Badge>
                  </td>
                  <td className="break-all py-1 pr-3 font-mono text-xs">{c.presented ?? '—'}</td>
                  <td className="break-all py-1 pr-3 font-mono text-xs">{c.expected ?? '—'}</td>
                  <td className="py-1 text-xs text-slate-600">{c.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {d.mode !== 'url' ? <p className="mt-2 text-xs text-slate-500">Paste the whole authorization URL to also check response_type, scopes, PKCE, aud and state.</p> : null}
        </Card>
      ) : null}

      {d.aud && d.aud.presented !== d.aud.expected ? (
        <Card title="aud vs the FHIR base URL">
          <RedirectUriHighlight segments={d.aud.highlight} registeredLabel="FHIR base URL" presentedLabel="aud" />
        </Card>
      ) : null}

      {d.scopes?.diff && d.scopes.granted !== null ? (
        <Card title="Scopes">
          <ScopeDiffTable diff={d.scopes.diff} requested={d.scopes.requested} granted={d.scopes.granted} supported={d.scopes.supported} requestedLabel="Requested" grantedLabel="Registered" />
        </Card>
      ) : null}

      {otherUris.length > 0 || otherRegistrations.length > 0 ? (
        <Card title="Other candidates">
          {otherUris.length > 0 ? (
            <>
              <h3 className="mb-1 text-sm font-medium">Other redirect URIs of this registration</h3>
              <ul className="mb-4 space-y-1 text-sm" data-testid="other-uris">
                {otherUris.map((p) => (
                  <li key={p.uri} className="flex flex-wrap items-baseline gap-2">
                    <code className="break-all font-mono text-xs">{p.uri}</code>
                    <span className="text-xs text-slate-500">{p.match ? 'matches' : `${p.distance} character${p.distance === 1 ? '' : 's'} away`}</span>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {otherRegistrations.length > 0 ? (
            <>
              <h3 className="mb-1 text-sm font-medium">Registrations of this client id at other issuers</h3>
              <ul className="space-y-2 text-sm" data-testid="other-registrations">
                {otherRegistrations.map((c, i) => (
                  <li key={c.registration?.id ?? i}>
                    <RegistrationLine c={c} /> {c.inScope ? null : <Badge tone="neutral">not the issuer of this request</Badge>}
                    <div className="text-xs text-slate-600">
                      Closest: <code className="break-all font-mono">{c.comparison.candidate ?? '—'}</code> · {candidateVerdict(c, d.presentedRedirectUri)}
                    </div>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </Card>
      ) : null}
    </div>
  );
}
