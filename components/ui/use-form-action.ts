'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';

type Result<T> = { ok: true; data: T } | { ok: false; error: { message: string }; fieldErrors?: Record<string, string[]> };

/**
 * Submits a form's server action: one pending state, the action's message and its errors per
 * field (kept until the next submit), and, once it worked, `onSuccess` with the action's data, or
 * else a refresh of the server-rendered page.
 */
export function useFormAction() {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const submit = <T,>(work: () => Promise<Result<T>>, onSuccess?: (data: T) => void) =>
    startTransition(async () => {
      const result = await work();
      if (!result.ok) {
        setError(result.error.message);
        setFieldErrors(result.fieldErrors ?? {});
        return;
      }
      setError(null);
      setFieldErrors({});
      if (onSuccess) onSuccess(result.data);
      else router.refresh();
    });
  return { pending, error, fieldErrors, submit, router };
}
