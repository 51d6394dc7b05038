import 'server-only';
import pino from 'pino';
import { env } from '@/lib/env';

const SECRET_PATHS = [
  'password',
  'client_secret',
  'clientSecret',
  'registration_access_token',
  'registrationAccessToken',
  'initial_access_token',
  'initialAccessToken',
  'access_token',
  'refresh_token',
  'authorization',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** Structured JSON logs. Secret-bearing fields are redacted at the top level and one level down. */
export const logger = pino({
  level: env().LOG_LEVEL,
  base: { app: 'registrar' },
  redact: { paths: [...SECRET_PATHS, ...SECRET_PATHS.map((p) => `*.${p}`)], censor: '[redacted]' },
});

/**
 * What may be logged about an unexpected error: its class and database error code. Never the
 * message: drizzle puts a failed query's parameters (which can be secrets) into it.
 */
export function errorSummary(error: unknown): { name: string; code?: string } {
  if (!(error instanceof Error)) return { name: typeof error };
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  return { name: error.name, ...(typeof code === 'string' ? { code } : {}) };
}
