/**
 * Coded application errors. Domain functions throw these; actions and API routes translate them.
 * The union is closed so that the UI, the API and the tests agree on what can happen.
 */
export const ERROR_CODES = [
  'NOT_FOUND',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'CONFLICT',
  'INVALID',
  'RATE_LIMITED',
  'UPSTREAM_REJECTED',
  'UPSTREAM_UNREACHABLE',
  // Safe outbound HTTP
  'BLOCKED_ADDRESS',
  'INSECURE_SCHEME',
  'INVALID_URL',
  'DNS_FAILURE',
  'TIMEOUT',
  'TOO_LARGE',
  'UNEXPECTED_REDIRECT',
  'INVALID_JSON',
  'CONNECTION_FAILED',
  // Discovery
  'ISSUER_MISMATCH',
  'DISCOVERY_FAILED',
  // Configuration
  'MISCONFIGURED',
  // Registration
  'NEEDS_RECOVERY',
  // Credential vault: no usable key-encryption key / an envelope failed authentication
  'VAULT_LOCKED',
  'VAULT_TAMPERED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Safe, non-secret context for logs and API problem details. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
