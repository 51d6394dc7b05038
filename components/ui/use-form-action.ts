'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';

type Result = { ok: true } | { ok: false; error: { message: string }; fieldErrors?: Record<string, string[]> };

/**
 * Submits a form's server action: one pending state, the action's message and its errors per
 * field (kept until the next submit), and a refresh of the server-rendered page once it worked.
 */
export function useFormAction() {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const submit = (work: () => Promise<Result>) =>
    startTransition(async () => {
      const result = await work();
      if (!result.ok) {
        setError(result.error.message);
        setFieldErrors(result.fieldErrors ?? {});
        return;
      }
      setError(null);
      setFieldErrors({});
      router.refresh();
    });
  return { pending, error, fieldErrors, submit };
}
