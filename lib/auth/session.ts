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
  /** A valid session cookie for a user who was deactivated or deleted since, or whose sessions were ended (a password reset, a reactivation). */
  | { status: 'revoked'; reason: 'deactivated' | 'session-ended' };

/**
 * Resolves the signed-in user from the session cookie AND the database on every call, so a
 * changed role or a deactivation takes effect on the very next request, and a session signed in
 * before a password reset, a deactivation or a reactivation (a copied cookie stays valid for its
 * whole lifetime otherwise) is revoked.
 */
export async function getSessionState(): Promise<SessionState> {
  const session = (await getServerSession(authOptions())) as { uid?: string; signedInAt?: number } | null;
  if (!session?.uid) return { status: 'signed-out' };
  const user = await findActiveUserById(session.uid);
  if (!user) return { status: 'revoked', reason: 'deactivated' };
  if (!sessionStillValid(session.signedInAt, user.sessionsValidAfter)) return { status: 'revoked', reason: 'session-ended' };
  const h = await headers();
  const requestId = h.get('x-request-id') ?? randomUUID();
  return { status: 'signed-in', actor: { type: 'user', id: user.id, email: user.email, role: user.role, requestId }, name: user.name };
}

/** A session counts if it was signed in after the user's sessions were last invalidated (a token without a sign-in time predates the check: it counts only if nothing was invalidated). */
export function sessionStillValid(signedInAt: number | undefined, sessionsValidAfter: Date | null): boolean {
  if (!sessionsValidAfter) return true;
  return signedInAt !== undefined && signedInAt > sessionsValidAfter.getTime();
}
