'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';
import { startBulkRotationAction } from '../actions';

/** "N selected — Rotate selected" (shown while rows are selected), with a confirmation, then the bulk rotation's progress page. */
export function BulkRotateBar({ registrationIds, onDone }: { registrationIds: string[]; onDone: () => void }) {
  const router = useRouter();
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<{ tone: 'error' | 'info'; text: string } | null>(null);
  const [pending, startTransition] = useTransition();
  const count = registrationIds.length;

  const rotate = () =>
    startTransition(async () => {
      const result = await startBulkRotationAction({ registrationIds });
      setConfirming(false);
      if (!result.ok) return setMessage({ tone: 'error', text: result.error.message });
      // The progress page lists what started and, with the reasons, what did not: the selection is
      // cleared by the refresh, so a message here would vanish with it.
      onDone();
      router.push(`/registrations/rotations/${result.data.bulkId}`);
    });

  return (
    <div className="space-y-2 border-b border-slate-100 px-3 py-2 text-sm" data-testid="bulk-rotate-bar">
      {count > 0 ? (
        <div className="flex flex-wrap items-center gap-3">
          <span>
            {count} selected
          </span>
          {confirming ? (
            <>
              <span className="text-slate-700">Rotate the credentials of {count} registration{count === 1 ? '' : 's'} now? The old credential keeps working until the new one is in place, except where a hospital issues the new secret in its answer to an RFC 7592 update: there the old secret stops at once.</span>
              <Button onClick={rotate} disabled={pending}>
                {pending ? 'Starting…' : `Rotate ${count}`}
              </Button>
              <Button variant="secondary" onClick={() => setConfirming(false)} disabled={pending}>
                Cancel
              </Button>
            </>
          ) : (
            <Button variant="secondary" onClick={() => (setMessage(null), setConfirming(true))}>
              Rotate selected
            </Button>
          )}
        </div>
      ) : null}
      {message ? <Alert tone={message.tone}>{message.text}</Alert> : null}
    </div>
  );
}
