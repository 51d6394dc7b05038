'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';

export type ActionMessage = { tone: 'success' | 'error' | 'info' | 'warning'; text: string };

/**
 * Runs server actions from a section of a server-rendered page: one pending state, the message the
 * work returns (cleared when the next one starts), and a refresh of the page once it is done.
 */
export function usePageAction() {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<ActionMessage | null>(null);
  const run = (work: () => Promise<ActionMessage | null>) =>
    startTransition(async () => {
      setMessage(null);
      const result = await work();
      if (result) setMessage(result);
      router.refresh();
    });
  return { pending, message, setMessage, run, router };
}
