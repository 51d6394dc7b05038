import 'server-only';
import { redirect } from 'next/navigation';
import { can, type Permission } from './permissions';
import { getSessionState } from './session';

/**
 * For pages (the UI layer only): the signed-in user, or a redirect to sign-in. A revoked session
 * goes through /api/session/end, which clears the cookie. Each page calls this itself, because a
 * layout is not re-rendered on every client-side navigation.
 */
export async function requirePageUser(permission?: Permission) {
  const state = await getSessionState();
  if (state.status === 'signed-out') redirect('/signin');
  if (state.status === 'revoked') redirect(`/api/session/end?reason=${state.reason}`);
  if (permission && !can(state.actor.role, permission)) redirect('/forbidden');
  return state;
}
