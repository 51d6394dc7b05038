import { resetEnvCache } from '@/lib/env';

/**
 * Runs `fn` with these variables set (undefined: unset) and lib/env's cache reset, then puts the
 * previous values back and resets it again, whatever `fn` did. The one place tests change the
 * environment of their own process.
 */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetEnvCache();
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}
