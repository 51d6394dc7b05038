import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, bearerToken, isRecord, readBody, safeEqual, sendBearerChallenge, sendJson, sendOAuthError } from './http';

export type MintOptions = { expiresInSeconds?: number; uses?: number };
export type MintedToken = { token: string; expiresAt: number; uses: number };
export type Minter = (opts: Required<MintOptions>) => Promise<MintedToken>;

export const ADMIN_IAT_PATH = '/sandbox/initial-access-tokens';
const MAX_EXPIRES_IN = 30 * 24 * 3600;
const MAX_USES = 10_000;

/** Applies defaults (1 hour, 1 use) and bounds; returns an error message for bad input. */
export function resolveMintOptions(input: unknown): Required<MintOptions> | string {
  if (input === undefined || input === null) return { expiresInSeconds: 3600, uses: 1 };
  if (!isRecord(input)) return 'body must be a JSON object';
  const { expiresInSeconds = 3600, uses = 1 } = input;
  if (typeof expiresInSeconds !== 'number' || !Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_EXPIRES_IN) {
    return `expiresInSeconds must be an integer between 1 and ${MAX_EXPIRES_IN}`;
  }
  if (typeof uses !== 'number' || !Number.isInteger(uses) || uses < 1 || uses > MAX_USES) {
    return `uses must be an integer between 1 and ${MAX_USES}`;
  }
  return { expiresInSeconds, uses };
}

/** `POST /sandbox/initial-access-tokens` with `Authorization: Bearer <adminToken>`. */
export async function handleMintRequest(
  req: IncomingMessage,
  res: ServerResponse,
  opts: { adminToken: string; realm: string; mint: Minter },
): Promise<void> {
  if (req.method !== 'POST') {
    sendOAuthError(res, 405, 'invalid_request', 'use POST', { allow: 'POST' });
    return;
  }
  const presented = bearerToken(req);
  if (!presented || !safeEqual(presented, opts.adminToken)) {
    sendBearerChallenge(res, opts.realm, presented !== undefined, 'the sandbox admin token is required');
    return;
  }
  let parsed: unknown;
  try {
    const raw = await readBody(req, 16 * 1024);
    parsed = raw.trim() === '' ? undefined : JSON.parse(raw);
  } catch (err) {
    const message = err instanceof BodyTooLargeError ? err.message : 'body is not valid JSON';
    sendOAuthError(res, 400, 'invalid_request', message);
    return;
  }
  const options = resolveMintOptions(parsed);
  if (typeof options === 'string') {
    sendOAuthError(res, 400, 'invalid_request', options);
    return;
  }
  const minted = await opts.mint(options);
  sendJson(res, 201, minted);
}

/**
 * Counts the remaining uses of initial access tokens. A use is reserved before the registration
 * runs and given back if it fails, so two concurrent requests cannot both spend the last use.
 */
export class UseLimiter {
  readonly #remaining = new Map<string, number>();

  track(token: string, uses: number): void {
    this.#remaining.set(token, uses);
  }

  /** 'untracked': not a token this limiter knows; 'spent': no use left. */
  reserve(token: string): 'reserved' | 'spent' | 'untracked' {
    const left = this.#remaining.get(token);
    if (left === undefined) return 'untracked';
    if (left <= 0) return 'spent';
    this.#remaining.set(token, left - 1);
    return 'reserved';
  }

  release(token: string): void {
    const left = this.#remaining.get(token);
    if (left !== undefined) this.#remaining.set(token, left + 1);
  }

  isExhausted(token: string): boolean {
    return this.#remaining.get(token) === 0;
  }

  forget(token: string): void {
    this.#remaining.delete(token);
  }
}
