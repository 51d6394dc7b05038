import 'server-only';
import { randomUUID } from 'node:crypto';
import { getServerSession } from 'next-auth';
import { headers } from 'next/headers';
import { findActiveUserById } from '@/lib/users/queries';
import type { Actor } from './actor';
import { authOptions } from './options';

export type SessionState =
  | { status: 'signed-in'; actor: Extract<Actor, { type: 'user' }>; name: string | null }
  | { status: 'signed-out' }
  /** A valid session cookie for a user who was deactivated or deleted since. */
  | { status: 'revoked' };

/**
 * Resolves the signed-in user from the session cookie AND the database on every call, so a
 * changed role or a deactivation takes effect on the very next request.
 */
export async function getSessionState(): Promise<SessionState> {
  const session = (await getServerSession(authOptions())) as { uid?: string } | null;
  if (!session?.uid) return { status: 'signed-out' };
  const user = await findActiveUserById(session.uid);
  if (!user) return { status: 'revoked' };
  const h = await headers();
  const requestId = h.get('x-request-id') ?? randomUUID();
  return { status: 'signed-in', actor: { type: 'user', id: user.id, email: user.email, role: user.role, requestId }, name: user.name };
}
