import { z } from 'zod';

/**
 * The one place that reads process.env. Parsed once, lazily, so that scripts and tests can set
 * variables before first use.
 */
/**
 * A cron expression as pg-boss schedules it: 5 fields (or 6 with seconds). Checked here so a typo
 * stops the start with the variable's name, instead of failing inside pg-boss after some workers
 * had started.
 */
const cron = (fallback: string) =>
  z
    .string()
    .trim()
    .regex(/^[\w*/,?#-]+(\s+[\w*/,?#-]+){4,5}$/, `must be a cron expression of 5 fields (or 6), such as "${fallback}"`)
    .default(fallback);

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: z.string().min(1).optional(),
  /** Where the embedded PostgreSQL keeps its data when DATABASE_URL is unset. */
  REGISTRAR_DATA_DIR: z.string().min(1).default('.data'),
  REGISTRAR_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  /** How long a migration waits for a table lock before it rolls back and tries again (db/migrate.ts). */
  REGISTRAR_MIGRATION_LOCK_TIMEOUT_SECONDS: z.coerce.number().gt(0).max(600).default(10),
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
  REGISTRAR_DISCOVERY_CRON: cron('17 3 * * *'),
  REGISTRAR_DISCOVERY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** Sign-in throttle: failures allowed per email within the window. */
  REGISTRAR_SIGNIN_MAX_FAILURES: z.coerce.number().int().min(1).default(5),
  REGISTRAR_SIGNIN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Reverse proxies in front of Registrar that append to X-Forwarded-For (0: none; the address limit is then off). */
  REGISTRAR_TRUSTED_PROXIES: z.coerce.number().int().min(0).max(10).default(0),
  /** /api/v1 rate limit: requests each API token may make per fixed window (shared by every instance). */
  REGISTRAR_API_RATE_LIMIT: z.coerce.number().int().min(1).default(120),
  REGISTRAR_API_RATE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Credential rotation (lib/rotation): when the scan runs (cron, UTC), renewal lead, retries, grace and key cache windows. */
  REGISTRAR_ROTATION_SCAN_CRON: cron('*/10 * * * *'),
  REGISTRAR_ROTATION_RENEW_BEFORE_DAYS: z.coerce.number().min(0).default(30),
  REGISTRAR_ROTATION_RENEW_LIFETIME_FRACTION: z.coerce.number().gt(0).lt(1).default(2 / 3),
  REGISTRAR_ROTATION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  REGISTRAR_ROTATION_BACKOFF_SECONDS: z.coerce.number().int().min(1).default(60),
  /** How long a replaced client keeps working before it is deleted at the hospital (default 7 days). */
  REGISTRAR_ROTATION_GRACE_SECONDS: z.coerce.number().int().min(0).default(7 * 86_400),
  /** How long an old signing key stays published after the switch: the verifiers' JWKS cache (Epic: up to 29 h). */
  REGISTRAR_ROTATION_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).default(29 * 3600),
  REGISTRAR_ROTATION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** Expiry notifications (lib/notifications): thresholds in days, the daily digest's time, delivery attempts. */
  REGISTRAR_EXPIRY_THRESHOLDS_DAYS: z.string().regex(/^\s*\d+(\s*,\s*\d+)*\s*$/).default('30,7,1'),
  /** The age at which an app's private key is due for replacement (key rollover); monitored like an expiry. */
  REGISTRAR_KEY_MAX_AGE_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
  REGISTRAR_NOTIFY_DIGEST_CRON: cron('0 7 * * *'),
  REGISTRAR_NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(6),
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
