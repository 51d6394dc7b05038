'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { TextField } from '@/components/ui/field';
import { saveWebhookAction, sendTestNotificationAction } from '../actions';

type Message = { tone: 'success' | 'error'; text: string };

/** The notification webhook: the URL is write-only (only its origin is ever shown back). */
export function WebhookForm({ configured, enabled, destination }: { configured: boolean; enabled: boolean; destination: string | null }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<Message | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  return (
    <div className="space-y-3">
      <p className="text-sm text-slate-700" data-testid="webhook-status">
        {configured ? `Sending to ${destination ?? '?'} — ${enabled ? 'enabled' : 'switched off'}.` : 'No webhook configured: expiry changes and the daily digest are not sent anywhere.'}
      </p>
      <form
        aria-label="Notification webhook"
        className="space-y-3"
        onSubmit={(event) => {
          event.preventDefault();
          const urlInput = event.currentTarget.elements.namedItem('url');
          const form = new FormData(event.currentTarget);
          startTransition(async () => {
            setMessage(null);
            const result = await saveWebhookAction({ url: String(form.get('url') ?? ''), enabled: form.get('enabled') === 'on' });
            // The URL is a secret (it carries its own credentials): write-only, never left in the page.
            if (urlInput instanceof HTMLInputElement) urlInput.value = '';
            setFieldErrors(result.ok ? {} : (result.fieldErrors ?? {}));
            setMessage(result.ok ? { tone: 'success', text: result.data.configured ? `Saved. Notifications go to ${result.data.destination}.` : 'Webhook removed.' } : { tone: 'error', text: result.error.message });
            router.refresh();
          });
        }}
      >
        <TextField
          label="Webhook URL"
          name="url"
          type="url"
          autoComplete="off"
          placeholder={configured ? '(unchanged unless you enter a new URL)' : 'https://hooks.slack.com/services/…'}
          hint="JSON with a Slack-compatible “text” field is POSTed here. A private or plain-http host must be on the outbound allowlist."
          errors={fieldErrors.url}
        />
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" name="enabled" defaultChecked={enabled || !configured} /> Enabled
        </label>
        <div className="flex gap-2">
          <Button type="submit" disabled={pending}>
            Save webhook
          </Button>
          {configured ? (
            <Button
              variant="ghost"
              disabled={pending}
              onClick={() =>
                startTransition(async () => {
                  const result = await saveWebhookAction({ url: '', clear: true });
                  setMessage(result.ok ? { tone: 'success', text: 'Webhook removed.' } : { tone: 'error', text: result.error.message });
                  router.refresh();
                })
              }
            >
              Remove webhook
            </Button>
          ) : null}
          {configured ? (
            <Button
              variant="secondary"
              disabled={pending}
              onClick={() =>
                startTransition(async () => {
                  const result = await sendTestNotificationAction({});
                  setMessage(result.ok ? { tone: 'success', text: 'Test notification sent (see the deliveries below).' } : { tone: 'error', text: result.error.message });
                  router.refresh();
                })
              }
            >
              Send a test notification
            </Button>
          ) : null}
        </div>
      </form>
      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}
    </div>
  );
}
