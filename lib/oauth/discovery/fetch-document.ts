import 'server-only';

import { AppError, isAppError, type ErrorCode } from '@/lib/errors';
import { type SafeFetchInit, safeFetch } from '@/lib/oauth/safe-fetch';

import { DOCUMENT_LABEL } from './parse';
import type { Attempt, DiscoveryWarning, DocumentKind, WarningCode } from './types';
import { warning } from './warnings';

export type FetchedDocument =
  | { ok: true; attempt: Attempt; json: unknown }
  | { ok: false; attempt: Attempt; warning: DiscoveryWarning | null; error: AppError | null };

const TRANSPORT_WARNING: Partial<Record<ErrorCode, WarningCode>> = {
  TIMEOUT: 'DOCUMENT_TIMEOUT',
  TOO_LARGE: 'DOCUMENT_TOO_LARGE',
  UNEXPECTED_REDIRECT: 'DOCUMENT_REDIRECTED',
  INVALID_JSON: 'DOCUMENT_NOT_JSON',
};

/** 404/410 mean "this server does not publish that document": an outcome, not a warning. */
const NOT_FOUND_STATUSES = new Set([404, 410]);

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** Bounded concurrency: at most `max` tasks run at once, the rest wait in order. */
export function createLimiter(max: number): Limiter {
  const limit = Math.max(1, Math.floor(max));
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    // A finishing task hands its slot straight to the next waiter, so no newcomer can slip in between.
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * GETs one discovery document through safeFetch; every outcome becomes an Attempt (and maybe a
 * warning). Only a cancellation through `init.signal` is rethrown.
 */
export async function fetchDocument(
  kind: DocumentKind,
  url: string,
  headers: Record<string, string>,
  init: Omit<SafeFetchInit, 'method' | 'headers' | 'body'>,
): Promise<FetchedDocument> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const label = DOCUMENT_LABEL[kind];
  try {
    const response = await safeFetch(url, { ...init, method: 'GET', headers });
    const { status } = response;
    if (NOT_FOUND_STATUSES.has(status)) {
      return {
        ok: false,
        attempt: { kind, url, outcome: 'not-found', status, message: `Not published (HTTP ${status}).`, durationMs: elapsed() },
        warning: null,
        error: null,
      };
    }
    if (status < 200 || status >= 300) {
      const type = response.headers.get('content-type')?.split(';')[0]?.trim();
      const message = `${label} at ${url}: the server answered HTTP ${status}${type ? ` (${type})` : ''}.`;
      return {
        ok: false,
        attempt: { kind, url, outcome: 'error', status, errorCode: 'DOCUMENT_HTTP_ERROR', message, durationMs: elapsed() },
        warning: warning('DOCUMENT_HTTP_ERROR', message, { document: kind }),
        error: null,
      };
    }
    const json = response.json();
    return {
      ok: true,
      attempt: { kind, url, outcome: 'found', status, message: 'Found.', durationMs: elapsed() },
      json,
    };
  } catch (caught) {
    // The caller cancelled the whole discovery: that is not a fact about this document.
    if (init.signal?.aborted) throw caught;
    const error = isAppError(caught)
      ? caught
      : new AppError('CONNECTION_FAILED', `The request to ${url} failed unexpectedly.`, undefined, { cause: caught });
    const code = TRANSPORT_WARNING[error.code] ?? 'DOCUMENT_UNREACHABLE';
    const status = typeof error.details?.status === 'number' ? error.details.status : undefined;
    const message = `${label} at ${url}: ${error.message}`;
    return {
      ok: false,
      attempt: {
        kind,
        url,
        outcome: 'error',
        ...(status !== undefined ? { status } : {}),
        errorCode: error.code,
        message: error.message,
        durationMs: elapsed(),
      },
      warning: warning(code, message, { document: kind }),
      error,
    };
  }
}
