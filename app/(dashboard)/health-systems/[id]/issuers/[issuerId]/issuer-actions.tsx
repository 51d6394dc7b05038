'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { acceptIssuerChangeAction, refreshIssuerAction } from '../../../actions';

/** `attentionReason`: the held change as the page shows it; Accept accepts exactly that. */
export function IssuerActions({ issuerId, needsAttention, attentionReason }: { issuerId: string; needsAttention: boolean; attentionReason: string | null }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<string | null>(null);
  return (
    <div className="flex flex-col items-end gap-1">
      <div className="flex gap-2">
        {needsAttention ? (
          <Button
            variant="secondary"
            disabled={pending}
            onClick={() =>
              startTransition(async () => {
                const result = await acceptIssuerChangeAction({ issuerId, seenReason: attentionReason });
                setMessage(result.ok ? (result.data.accepted.length ? 'Accepted: Registrar now uses the new values.' : 'Marked as reviewed.') : result.error.message);
                router.refresh();
              })
            }
          >
            Accept the change
          </Button>
        ) : null}
        <Button
          disabled={pending}
          onClick={() =>
            startTransition(async () => {
              const result = await refreshIssuerAction({ issuerId });
              if (!result.ok) setMessage(result.error.message);
              else setMessage(result.data.outcome === 'ok' ? `Refreshed: ${result.data.changes} change(s).` : `Refresh failed: ${result.data.error?.message ?? ''}`);
              router.refresh();
            })
          }
        >
          {pending ? 'Refreshing…' : 'Refresh'}
        </Button>
      </div>
      {message ? (
        <p role="status" className="text-xs text-slate-600">
          {message}
        </p>
      ) : null}
    </div>
  );
}
