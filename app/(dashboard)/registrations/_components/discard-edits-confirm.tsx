'use client';

import { Button } from '@/components/ui/button';
import { Alert } from '@/components/ui/card';

/**
 * Asks before a change of issuer, app or environment (or a new prefill) throws away metadata the
 * person edited. The edits are not carried over: they were made for one app, environment and
 * issuer (redirect URIs differ per environment; adaptations per issuer), and a sandbox URI
 * quietly carried into a production registration is worse than typing an edit again.
 */
export function DiscardEditsConfirm({ question, confirmLabel, onConfirm, onCancel }: { question: string; confirmLabel: string; onConfirm: () => void; onCancel: () => void }) {
  return (
    <div className="mt-3" data-testid="discard-edits-confirm">
      <Alert tone="warning">
        <p>{question}</p>
        <div className="mt-2 flex flex-wrap gap-2">
          <Button variant="danger" onClick={onConfirm}>
            {confirmLabel}
          </Button>
          <Button variant="secondary" onClick={onCancel}>
            Keep my edits
          </Button>
        </div>
      </Alert>
    </div>
  );
}
