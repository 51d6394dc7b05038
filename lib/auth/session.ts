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
  const session = (await getServerSession(authOptions())) as ({ uid?: string } & SessionMarks) | null;
  if (!session?.uid) return { status: 'signed-out' };
  const user = await findActiveUserById(session.uid);
  if (!user) return { status: 'revoked', reason: 'deactivated' };
  if (!sessionStillValid(session, user)) return { status: 'revoked', reason: 'session-ended' };
  const h = await headers();
  const requestId = h.get('x-request-id') ?? randomUUID();
  return { status: 'signed-in', actor: { type: 'user', id: user.id, email: user.email, role: user.role, requestId }, name: user.name };
}

/** What a session says of its sign-in: when, and the user's session epoch it read then. */
export type SessionMarks = { signedInAt?: number; epoch?: number };

/**
 * A session counts while the user's session epoch is still the one it signed in with (every reset,
 * deactivation and reactivation raises it). A session from before epochs were kept counts if it was
 * signed in after the user's sessions were last ended (a token without a sign-in time predates that
 * check too: it counts only if nothing was ended).
 */
export function sessionStillValid(session: SessionMarks, user: { sessionsValidAfter: Date | null; sessionEpoch: number }): boolean {
  if (session.epoch !== undefined) return session.epoch === user.sessionEpoch;
  if (!user.sessionsValidAfter) return true;
  return session.signedInAt !== undefined && session.signedInAt > user.sessionsValidAfter.getTime();
}
