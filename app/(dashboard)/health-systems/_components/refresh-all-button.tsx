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
    let misses = 0;
    const timer = setInterval(async () => {
      const result = await getRefreshAllProgressAction({ operationId: operation.id }).catch(() => null);
      if (result?.ok && result.data) {
        misses = 0;
        setError(null);
        setOperation(result.data);
        if (result.data.status === 'done' || result.data.status === 'failed') router.refresh();
        return;
      }
      // The progress cannot be read (signed out, the server restarting): say so, and stop after a
      // while instead of polling every second for ever behind a button that stays disabled.
      misses += 1;
      setError(result && !result.ok ? result.error.message : 'The progress cannot be read right now.');
      if (misses >= 10) {
        clearInterval(timer);
        setOperation((op) => (op ? { ...op, status: 'unknown' } : op));
        setError('Stopped following the refresh: its progress could not be read ten times in a row. Reload the page to see where it is.');
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
