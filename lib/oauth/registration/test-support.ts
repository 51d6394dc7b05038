import 'server-only';

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { isAppError } from '@/lib/errors';
import { parseAllowlist } from '@/lib/oauth/allowlist';
import type { OutboundPolicy } from '@/lib/oauth/safe-fetch';

import type { RegistrationErrorInfo } from './types';

/** Test-only helpers for this folder's tests (loopback servers, policies, error capture). */

/** Plain http to exactly these loopback origins. */
export function loopbackPolicy(...origins: string[]): OutboundPolicy {
  return { allowlist: parseAllowlist(origins.map((o) => `http://${new URL(o).host}`).join(',')) };
}

export type Loopback = { origin: string; server: Server; close(): Promise<void> };

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    origin: `http://127.0.0.1:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function readRequestBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `fn`, expects it to reject with an AppError, and returns it with its registrationError. */
export async function captureError(fn: () => Promise<unknown>): Promise<{
  code: string;
  message: string;
  details: Record<string, unknown>;
  info: RegistrationErrorInfo;
  serialized: string;
}> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  if (!isAppError(caught)) throw new Error(`expected an AppError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  const details = caught.details ?? {};
  return {
    code: caught.code,
    message: caught.message,
    details,
    info: details.registrationError as RegistrationErrorInfo,
    serialized: JSON.stringify({ message: caught.message, details, error: caught }),
  };
}
