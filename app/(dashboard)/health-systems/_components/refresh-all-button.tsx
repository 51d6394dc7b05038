'use client';

import { utcMinute } from '@/lib/format-time';
import { useRouter } from 'next/navigation';
import { useEffect, useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { getRefreshAllProgressAction, startRefreshAllAction } from '../actions';

type Operation = { id: string; status: string; total: number; succeeded: number; failed: number; finishedAt: string | null };

/** Starts a refresh of every issuer and shows its progress, polling until it is done. */
export function RefreshAllButton({ initial }: { initial: Operation | null }) {
  const router = useRouter();
  const [operation, setOperation] = useState<Operation | null>(initial);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const active = operation !== null && (operation.status === 'queued' || operation.status === 'running');

  useEffect(() => {
    if (!active || !operation) return;
    const timer = setInterval(async () => {
      const result = await getRefreshAllProgressAction({ operationId: operation.id });
      if (result.ok && result.data) {
        setOperation(result.data);
        if (result.data.status === 'done' || result.data.status === 'failed') router.refresh();
      }
    }, 1000);
    return () => clearInterval(timer);
  }, [active, operation, router]);

  const settled = operation ? operation.succeeded + operation.failed : 0;
  const percent = operation && operation.total > 0 ? Math.round((settled / operation.total) * 100) : 0;
  return (
    <div className="w-72 space-y-2 text-sm">
      <Button
        variant="secondary"
        disabled={pending || active}
        onClick={() =>
          startTransition(async () => {
            const result = await startRefreshAllAction({});
            if (!result.ok) return setError(result.error.message);
            setError(null);
            setOperation({ id: result.data.id, status: 'queued', total: 0, succeeded: 0, failed: 0, finishedAt: null });
          })
        }
      >
        {active ? 'Refreshing all issuers…' : 'Refresh all issuers'}
      </Button>
      {operation ? (
        <div>
          <div
            role="progressbar"
            aria-label="Refresh all progress"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent}
            className="h-2 w-full overflow-hidden rounded bg-slate-200"
          >
            <div className="h-full bg-slate-900 transition-all" style={{ width: `${percent}%` }} />
          </div>
          <p className="mt-1 text-xs text-slate-600" data-testid="refresh-all-status">
            {active ? `${settled} of ${operation.total} issuers` : `Last refresh: ${operation.succeeded} ok, ${operation.failed} failed`}
            {operation.finishedAt ? ` · ${utcMinute(operation.finishedAt)}` : ''}
          </p>
        </div>
      ) : null}
      {error ? <p className="text-xs text-red-700">{error}</p> : null}
    </div>
  );
}
