'use client';

import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';

/**
 * A page or action of the dashboard failed unexpectedly (a lost connection, a server restart, a
 * bug). Shown inside the dashboard's layout instead of the browser's blank error page; the message
 * never carries server detail (Next.js gives the browser only a digest to quote to an admin).
 * Nothing is retried by itself: a registration in flight is resumed, never repeated, by its own
 * page (the onboarding form keeps its idempotency key; Registrations → Operations lists the rest).
 */
export default function DashboardError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="space-y-4" role="alert">
      <h1 className="text-xl font-semibold text-slate-900">Something went wrong</h1>
      <Alert>
        This page could not be shown or its last action could not finish. Nothing was retried. If you were registering or rotating
        a credential, check Registrations → Operations before trying again.
        {error.digest ? <span className="mt-1 block text-xs">Reference for an admin: {error.digest}</span> : null}
      </Alert>
      <Button onClick={() => reset()}>Try again</Button>
    </div>
  );
}
