import { z } from 'zod';

/**
 * The one place that reads process.env. Parsed once, lazily, so that scripts and tests can set
 * variables before first use.
 */
const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: z.string().min(1).optional(),
  /** Where the embedded PostgreSQL keeps its data when DATABASE_URL is unset. */
  REGISTRAR_DATA_DIR: z.string().min(1).default('.data'),
  REGISTRAR_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  NEXTAUTH_URL: z.string().url().optional(),
  NEXTAUTH_SECRET: z.string().min(16).optional(),
  REGISTRAR_PUBLIC_URL: z.string().url().default('http://localhost:3000'),
  /** Comma-separated outbound allowlist entries; `http://` prefix permits plain http. */
  REGISTRAR_OUTBOUND_ALLOWLIST: z.string().default(''),
  /** Base64 (32 bytes) key-encryption key for the credential vault. */
  REGISTRAR_KEY: z.string().optional(),
  REGISTRAR_KEY_FILE: z.string().optional(),
  /** Comma-separated base64 keys that may still decrypt (not encrypt), kept until `npm run keys:rotate` has re-wrapped everything. */
  REGISTRAR_PREVIOUS_KEYS: z.string().optional(),
  SSO_ISSUER: z.string().url().optional(),
  SSO_CLIENT_ID: z.string().optional(),
  SSO_CLIENT_SECRET: z.string().optional(),
  SSO_NAME: z.string().default('Company SSO'),
  /** Domains whose verified SSO users may sign themselves up (as support). Comma-separated. */
  SSO_SELF_SIGNUP_DOMAINS: z.string().default(''),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REGISTRAR_DISABLE_JOBS: z
    .enum(['0', '1', 'true', 'false'])
    .default('0')
    .transform((v) => v === '1' || v === 'true'),
  /** When the daily re-discovery of every issuer runs (cron, UTC). */
  REGISTRAR_DISCOVERY_CRON: z.string().default('17 3 * * *'),
  REGISTRAR_DISCOVERY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** Sign-in throttle: failures allowed per email within the window. */
  REGISTRAR_SIGNIN_MAX_FAILURES: z.coerce.number().int().min(1).default(5),
  REGISTRAR_SIGNIN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
});

export type Env = z.infer<typeof EnvSchema>;

let cached: Env | undefined;

export function env(): Env {
  if (!cached) cached = EnvSchema.parse(process.env);
  return cached;
}

/** Tests and launchers change variables between uses. */
export function resetEnvCache(): void {
  cached = undefined;
}
