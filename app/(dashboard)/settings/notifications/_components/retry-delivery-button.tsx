'use client';

import { useRouter } from 'next/navigation';
import { useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { retryDeliveryAction } from '../actions';

export function RetryDeliveryButton({ id }: { id: string }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  return (
    <Button
      variant="ghost"
      disabled={pending}
      onClick={() =>
        startTransition(async () => {
          await retryDeliveryAction({ id });
          router.refresh();
        })
      }
    >
      {pending ? 'Sending…' : 'Send again'}
    </Button>
  );
}
