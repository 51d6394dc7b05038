'use client';

import { useState } from 'react';
import { Button } from '@/components/ui/button';

/** Copies the absolute URL of a diagnosis (the page's own query string) to the clipboard. */
export function CopyLinkButton({ href }: { href: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <Button
      variant="secondary"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(new URL(href, window.location.origin).toString());
          setState('copied');
        } catch {
          setState('failed');
        }
        setTimeout(() => setState('idle'), 2000);
      }}
    >
      <span aria-live="polite">{state === 'copied' ? 'Link copied' : state === 'failed' ? 'Copy failed: use the link' : 'Copy link'}</span>
    </Button>
  );
}
