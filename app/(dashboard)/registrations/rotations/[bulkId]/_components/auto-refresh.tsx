'use client';

import { useRouter } from 'next/navigation';
import { useEffect } from 'react';

/**
 * Re-renders the server page every `ms` while `active` (a bulk rotation still running), but not
 * while the tab is hidden: it catches up as soon as the tab is shown again.
 */
export function AutoRefresh({ active, ms = 1500 }: { active: boolean; ms?: number }) {
  const router = useRouter();
  useEffect(() => {
    if (!active) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () => {
      if (!document.hidden) router.refresh();
      timer = setTimeout(tick, ms);
    };
    const onVisible = () => {
      if (!document.hidden) router.refresh();
    };
    timer = setTimeout(tick, ms);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [active, ms, router]);
  return null;
}
