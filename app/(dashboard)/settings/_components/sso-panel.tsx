'use client';

import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextField } from '@/components/ui/field';
import { setSsoSignupDomainsAction } from '../actions';

export function SsoPanel({ configured, issuer, domains, envDomains }: { configured: boolean; issuer: string | null; domains: string[]; envDomains: string[] }) {
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<{ tone: 'error' | 'success'; text: string } | null>(null);
  const [domainErrors, setDomainErrors] = useState<string[] | undefined>();
  return (
    <div className="space-y-3 text-sm">
      <p>
        {configured ? (
          <>
            Single sign-on through <code>{issuer}</code> is on. People sign in with it when a local user has the same verified email.
          </>
        ) : (
          <>Single sign-on is off. Set SSO_ISSUER, SSO_CLIENT_ID and SSO_CLIENT_SECRET to turn it on.</>
        )}
      </p>
      <form
        aria-label="SSO sign-up domains"
        className="flex items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          const value = String(new FormData(e.currentTarget).get('domains') ?? '');
          startTransition(async () => {
            const result = await setSsoSignupDomainsAction({ domains: value });
            setDomainErrors(result.ok ? undefined : result.fieldErrors?.domains);
            setMessage(result.ok ? { tone: 'success', text: `Saved: ${result.data.domains.join(', ') || 'nobody signs up through SSO'}.` } : result.fieldErrors?.domains ? null : { tone: 'error', text: result.error.message });
          });
        }}
      >
        <div className="flex-1">
          <TextField label="Domains whose verified SSO users may sign up (as support)" name="domains" defaultValue={domains.join(', ')} errors={domainErrors} hint={envDomains.length ? `Also from SSO_SELF_SIGNUP_DOMAINS: ${envDomains.join(', ')}` : 'Comma separated; empty means nobody signs up through SSO.'} />
        </div>
        <Button type="submit" disabled={pending}>
          Save
        </Button>
      </form>
      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}
    </div>
  );
}
