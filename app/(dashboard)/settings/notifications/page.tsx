import { Badge, Card, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { env } from '@/lib/env';
import { listNotificationDeliveries } from '@/lib/notifications/queries';
import { getWebhookSettings } from '@/lib/notifications/settings';
import { RetryDeliveryButton } from './_components/retry-delivery-button';
import { WebhookForm } from './_components/webhook-form';

const TONE = { delivered: 'good', pending: 'info', failed: 'bad' } as const;

export default async function NotificationSettingsPage() {
  const { actor } = await requirePageUser('settings:manage');
  const [webhook, failures, recent] = await Promise.all([
    getWebhookSettings(actor),
    listNotificationDeliveries(actor, { failedOnly: true, limit: 100 }),
    listNotificationDeliveries(actor, { limit: 30 }),
  ]);
  const e = env();
  return (
    <>
      <PageHeader
        title="Notifications"
        description={`Credential expiry changes (thresholds ${e.REGISTRAR_EXPIRY_THRESHOLDS_DAYS} days), failed rotations and a daily digest (${e.REGISTRAR_NOTIFY_DIGEST_CRON} UTC) go to one webhook. Messages never contain a secret.`}
      />
      <div className="space-y-6">
        <Card title="Webhook">
          <WebhookForm {...webhook} />
        </Card>
        <Card title={`Delivery failures (${failures.length})`}>
          {failures.length === 0 ? (
            <p className="text-sm text-slate-600" data-testid="no-delivery-failures">
              No failed deliveries.
            </p>
          ) : (
            <DeliveryTable rows={failures} testId="delivery-failures" retry />
          )}
        </Card>
        <Card title="Recent deliveries">
          <DeliveryTable rows={recent} testId="recent-deliveries" />
        </Card>
      </div>
    </>
  );
}

function DeliveryTable({ rows, testId, retry = false }: { rows: Awaited<ReturnType<typeof listNotificationDeliveries>>; testId: string; retry?: boolean }) {
  return (
    <table className="min-w-full text-sm" data-testid={testId}>
      <thead className="text-left text-xs uppercase text-slate-500">
        <tr>
          <th className="py-1">Queued</th>
          <th className="py-1">Kind</th>
          <th className="py-1">Status</th>
          <th className="py-1">Attempts</th>
          <th className="py-1">Last error</th>
          <th className="py-1">Message</th>
          {retry ? (
            <th className="py-1">
              <span className="sr-only">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {rows.map((r) => (
          <tr key={r.id}>
            <td className="py-1 pr-2 font-mono text-xs">{r.createdAt.slice(0, 19).replace('T', ' ')}</td>
            <td className="py-1 pr-2">{r.kind}</td>
            <td className="py-1 pr-2">
              <Badge tone={TONE[r.status]}>{r.status}</Badge>
            </td>
            <td className="py-1 pr-2">{r.attempts}</td>
            <td className="py-1 pr-2 text-xs">{r.lastError ?? '—'}</td>
            <td className="max-w-md truncate py-1 pr-2 text-xs" title={r.text}>
              {r.text.split('\n')[0]}
            </td>
            {retry ? (
              <td className="py-1">
                <RetryDeliveryButton id={r.id} />
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
