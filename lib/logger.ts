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
