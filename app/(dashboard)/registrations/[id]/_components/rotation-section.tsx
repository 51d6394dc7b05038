'use client';

import Link from 'next/link';
import { useState } from 'react';
import { Button } from '@/components/ui/button';
import { Alert, Badge } from '@/components/ui/card';
import { TextField } from '@/components/ui/field';
import { usePageAction, type ActionMessage } from '@/components/ui/use-page-action';
import { utcMinute } from '@/lib/format-time';
import type { RotationPanel } from '@/lib/rotation/queries';
import {
  abandonRotationAction,
  confirmRotationVerifiedAction,
  retryRotationAction,
  setRotationPolicyAction,
  startRotationAction,
  supplyInitialAccessTokenAction,
} from '../actions';

type Rotation = NonNullable<RotationPanel['latest']>;

const STATE_LABEL: Record<Rotation['state'], string> = {
  planned: 'planned',
  waiting_for_initial_access_token: 'waiting for an initial access token',
  in_flight: 'changing the credential at the hospital',
  new_credential_stored: 'new credential stored, verifying',
  waiting_for_verification: 'waiting for a person to verify',
  verified: 'verified, switching',
  current: 'done: the new credential is current',
  failed: 'failed: the old credential is still current',
};
const STATE_TONE: Record<Rotation['state'], 'good' | 'warn' | 'bad' | 'info' | 'neutral'> = {
  planned: 'info',
  waiting_for_initial_access_token: 'warn',
  in_flight: 'info',
  new_credential_stored: 'info',
  waiting_for_verification: 'warn',
  verified: 'info',
  current: 'good',
  failed: 'bad',
};
const VERIFICATION_LABELS: Record<RotationPanel['plan']['verification'], string> = {
  token_request: 'a client_credentials token request',
  person: 'a person confirms',
  server_answer: 'the hospital’s answer (the old secret stops working when it is sent)',
};

const ACTIVE = new Set<Rotation['state']>(['planned', 'waiting_for_initial_access_token', 'in_flight', 'new_credential_stored', 'waiting_for_verification', 'verified']);

const utc = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—');

function expiryText(expiry: Rotation['newExpiry']): string {
  if (!expiry) return '—';
  if (expiry.kind === 'at') return utc(expiry.at);
  if (expiry.kind === 'never') return 'never (client_secret_expires_at 0)';
  if (expiry.kind === 'none') return 'no secret (key-based)';
  return 'unknown (the hospital did not say)';
}

/**
 * The registration page's Rotate section: the planned strategy and its steps before running,
 * the progress of the latest rotation, the new expiry and the previous credential. The buttons
 * appear for ops and admins only; every action checks the permission again on the server.
 */
export function RotationSection({ panel, strategyLabels }: { panel: RotationPanel; strategyLabels: Record<Rotation['strategy'], string> }) {
  const { pending, message, run } = usePageAction();
  const [token, setToken] = useState('');
  const [tokenErrors, setTokenErrors] = useState<string[] | undefined>();
  const { plan, latest } = panel;
  const active = latest && ACTIVE.has(latest.state) ? latest : null;
  const registrationId = panel.registrationId;

  const describe = (r: Rotation): ActionMessage => {
    if (r.state === 'current') {
      return { tone: 'success', text: `Rotated. ${r.newClientId ? `New client ${r.newClientId}; ` : ''}the new credential is current (expires ${expiryText(r.newExpiry)}).` };
    }
    if (r.state === 'failed') return { tone: 'error', text: r.error?.message ?? 'The rotation failed; the old credential is still current.' };
    if (r.error) return { tone: 'warning', text: `${STATE_LABEL[r.state]}: ${r.error.message}` };
    return { tone: 'info', text: `Rotation ${STATE_LABEL[r.state]}.` };
  };

  const start = () => {
    // This strategy's new secret arrives in the hospital's answer and the old one stops working at
    // once: whatever still uses it fails until it gets the new one. Asked, not assumed.
    if (plan.verification === 'server_answer' && !window.confirm('The hospital issues the new secret in its answer, and the old secret stops working at once: anything still using it fails until it has the new one. Rotate now?')) return;
    run(async () => {
      const result = await startRotationAction({ registrationId, ...(plan.needsInitialAccessToken && token ? { initialAccessToken: token } : {}) });
      setToken('');
      // A refused token (e.g. too long) is shown at the token field, as in the form that supplies one later.
      setTokenErrors(result.ok ? undefined : result.fieldErrors?.initialAccessToken);
      if (!result.ok) return { tone: 'error', text: result.error.message };
      return result.data.joined ? { tone: 'info', text: 'A rotation of this registration was already running; showing it.' } : describe(result.data);
    });
  };

  return (
    <div className="space-y-4" data-testid="rotation-section">
      <p className="text-sm text-slate-700" data-testid="rotation-policy">
        Renewal policy: <Badge tone={panel.policy === 'automatic' ? 'good' : 'neutral'}>{panel.policy}</Badge>{' '}
        {panel.replacedBy
          ? '· renewals follow the client that replaced this one'
          : panel.renewAt
            ? `· due for renewal ${utc(panel.renewAt)}`
            : '· no renewal date (the credential does not expire, or its expiry is unknown)'}
        {panel.canRotate && !panel.replacedBy ? (
          <Button
            variant="ghost"
            className="ml-2"
            disabled={pending}
            onClick={() =>
              run(async () => {
                const next = panel.policy === 'automatic' ? 'manual' : 'automatic';
                const result = await setRotationPolicyAction({ registrationId, policy: next });
                return result.ok ? { tone: 'success', text: `Renewal policy set to ${next}.` } : { tone: 'error', text: result.error.message };
              })
            }
          >
            {panel.policy === 'automatic' ? 'Switch to manual' : 'Rotate automatically'}
          </Button>
        ) : null}
      </p>

      {panel.attentionReason ? (
        <div data-testid="attention-reason">
          <Alert tone="warning">
            <span className="whitespace-pre-line">Needs attention: {panel.attentionReason}</span>
          </Alert>
        </div>
      ) : null}

      {panel.replacedBy ? (
        <Alert tone="info">
          Replaced by a rotation: Registrar now uses client{' '}
          <Link className="font-mono underline" href={`/registrations/${panel.replacedBy.id}`}>
            {panel.replacedBy.clientId}
          </Link>
          . {panel.retiringUntil ? `This client is retiring: it keeps working until ${utc(panel.retiringUntil)}, then it is deleted at the hospital.` : 'This client is retired.'}
        </Alert>
      ) : null}
      {panel.replaces ? (
        <p className="text-sm text-slate-600">
          This client replaced{' '}
          <Link className="font-mono underline" href={`/registrations/${panel.replaces.id}`}>
            {panel.replaces.clientId}
          </Link>{' '}
          in a rotation.
        </p>
      ) : null}

      {latest ? (
        <div className="space-y-2 rounded-md border border-slate-200 p-3" data-testid="rotation-status">
          <p className="text-sm">
            Latest rotation: <Badge tone={STATE_TONE[latest.state]}>{STATE_LABEL[latest.state]}</Badge>
            {latest.stalledAt && ACTIVE.has(latest.state) ? (
              <>
                {' '}
                <Badge tone="bad">stopped: needs a person</Badge>
              </>
            ) : null}{' '}
            · {strategyLabels[latest.strategy]}
            {latest.fallbackFrom ? ` (fell back from ${strategyLabels[latest.fallbackFrom]})` : ''} · started {utc(latest.createdAt)} by {latest.createdBy ?? 'the scheduler'} ({latest.trigger})
          </p>
          <ol className="list-decimal space-y-0.5 pl-6 text-sm text-slate-700">
            {latest.steps.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ol>
          {latest.state === 'current' ? (
            <dl className="grid grid-cols-1 gap-2 text-sm md:grid-cols-3">
              <div>
                <dt className="text-xs uppercase text-slate-500">New expiry</dt>
                <dd data-testid="new-expiry">{expiryText(latest.newExpiry)}</dd>
              </div>
              <div>
                <dt className="text-xs uppercase text-slate-500">Verified by</dt>
                <dd>{latest.verifiedBy ?? '—'}</dd>
              </div>
              <div>
                <dt className="text-xs uppercase text-slate-500">Clean-up</dt>
                <dd>{latest.cleanupDoneAt ? (latest.cleanupError ? `needs a person: ${latest.cleanupError}` : `done ${utc(latest.cleanupDoneAt)}`) : latest.cleanupAt ? `after ${utc(latest.cleanupAt)}` : 'nothing to clean up'}</dd>
              </div>
            </dl>
          ) : null}
          {latest.error && latest.state !== 'current' ? (
            <Alert tone={latest.state === 'failed' ? 'error' : 'warning'}>
              {latest.error.message}
              {latest.nextAttemptAt && latest.state !== 'failed' ? ` Next attempt ${utc(latest.nextAttemptAt)} (attempt ${latest.attempt + 1}).` : ''}
            </Alert>
          ) : null}
          {panel.canRotate && active ? (
            <div className="flex flex-wrap items-end gap-2">
              {active.state === 'waiting_for_initial_access_token' ? (
                <form
                  aria-label="Initial access token"
                  className="flex items-end gap-2"
                  onSubmit={(event) => {
                    event.preventDefault();
                    run(async () => {
                      const result = await supplyInitialAccessTokenAction({ registrationId, rotationId: active.id, initialAccessToken: token });
                      setToken('');
                      // A refused token is shown at the token field (the field is write-only: it is emptied either way).
                      setTokenErrors(result.ok ? undefined : (result.fieldErrors?.initialAccessToken ?? [result.error.message]));
                      return result.ok ? describe(result.data) : null;
                    });
                  }}
                >
                  <TextField label="Initial access token" name="initialAccessToken" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.currentTarget.value)} errors={tokenErrors} />
                  <Button type="submit" disabled={pending || token.trim() === ''}>
                    Continue rotation
                  </Button>
                </form>
              ) : null}
              {active.state === 'waiting_for_verification' ? (
                <>
                  <p className="w-full text-sm text-slate-700">
                    Registrar cannot check this client with a token request (no client_credentials grant). Check that client {active.newClientId ?? 'with the new credential'} works, then confirm.
                  </p>
                  <Button
                    disabled={pending}
                    onClick={() =>
                      run(async () => {
                        const result = await confirmRotationVerifiedAction({ registrationId, rotationId: active.id });
                        return result.ok ? describe(result.data) : { tone: 'error', text: result.error.message };
                      })
                    }
                  >
                    Confirm it works
                  </Button>
                </>
              ) : null}
              {active.nextAttemptAt || active.stalledAt ? (
                <Button
                  variant="secondary"
                  disabled={pending}
                  onClick={() =>
                    run(async () => {
                      const result = await retryRotationAction({ registrationId, rotationId: active.id });
                      return result.ok ? describe(result.data) : { tone: 'error', text: result.error.message };
                    })
                  }
                >
                  Retry now
                </Button>
              ) : null}
              {active.updateSentAt ? (
                <p className="basis-full text-xs text-amber-800" data-testid="rotation-update-outstanding">
                  An update was sent to the hospital at {utcMinute(active.updateSentAt)} and its outcome is not known: the hospital may already hold a new secret.
                  Retry asks it; abandoning does not bring the old secret back.
                </p>
              ) : null}
              <Button
                variant="ghost"
                disabled={pending}
                onClick={() => {
                  const consequence = active.updateSentAt
                    ? 'An update was sent to the hospital and its outcome is not known: the old secret may already have stopped working, and abandoning does not bring it back. The registration will need attention.'
                    : 'The current credential stays in use; nothing more is sent for this rotation.';
                  if (!window.confirm(`Abandon this rotation? ${consequence}`)) return;
                  run(async () => {
                    const result = await abandonRotationAction({ registrationId, rotationId: active.id });
                    return result.ok ? { tone: active.updateSentAt ? 'error' : 'info', text: result.data.error?.message ?? 'Rotation abandoned.' } : { tone: 'error', text: result.error.message };
                  });
                }}
              >
                Abandon
              </Button>
            </div>
          ) : null}
        </div>
      ) : null}

      {!active && !panel.replacedBy ? (
        <div className="space-y-2" data-testid="rotation-plan">
          {plan.strategy ? (
            <>
              <p className="text-sm">
                Planned strategy: <span className="font-medium">{strategyLabels[plan.strategy]}</span> · verification:{' '}
                {VERIFICATION_LABELS[plan.verification]}
              </p>
              <p className="text-sm text-slate-600">{plan.why}</p>
              {latest?.state === 'current' ? null : (
                <ol className="list-decimal space-y-0.5 pl-6 text-sm text-slate-700">
                  {plan.steps.map((s) => (
                    <li key={s}>{s}</li>
                  ))}
                </ol>
              )}
            </>
          ) : null}
          {plan.blockers.length ? <Alert tone="warning">{plan.blockers.join(' ')}</Alert> : null}
          {panel.canRotate && plan.strategy && plan.blockers.length === 0 ? (
            <div className="flex flex-wrap items-end gap-2">
              {plan.needsInitialAccessToken ? (
                <TextField label="Initial access token" name="initialAccessToken" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.currentTarget.value)} hint="Optional now: without it the rotation waits for one." errors={tokenErrors} />
              ) : null}
              <Button disabled={pending} onClick={start}>
                {pending ? 'Rotating…' : 'Rotate now'}
              </Button>
            </div>
          ) : null}
        </div>
      ) : null}

      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}

      <dl className="grid grid-cols-1 gap-2 text-sm md:grid-cols-2">
        <div data-testid="current-credential">
          <dt className="text-xs uppercase text-slate-500">Current credential</dt>
          <dd>
            {panel.currentCredential ? (
              <>
                client <span className="font-mono">{panel.currentCredential.clientId}</span> · secret <span className="font-mono text-xs">{panel.currentCredential.fingerprint}</span> v
                {panel.currentCredential.version} · expires {utc(panel.currentCredential.expiresAt)}
              </>
            ) : (
              'no client secret (key-based or public client)'
            )}
          </dd>
        </div>
        <div data-testid="previous-credential">
          <dt className="text-xs uppercase text-slate-500">Previous credential</dt>
          <dd>
            {panel.previousCredential ? (
              <>
                client <span className="font-mono">{panel.previousCredential.clientId}</span> · secret <span className="font-mono text-xs">{panel.previousCredential.fingerprint}</span> v
                {panel.previousCredential.version} · {panel.previousCredential.state} · expires {utc(panel.previousCredential.expiresAt)}
              </>
            ) : (
              'none yet'
            )}
          </dd>
        </div>
      </dl>
    </div>
  );
}
