import 'server-only';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { getDb } from '@/db/client';
import { recordAudit } from '@/lib/audit/record';
import { REQUEST_PATH_HEADER, safeReturnPath } from './return-to';
import { can, type Permission } from './permissions';
import { getSessionState } from './session';

/**
 * For pages (the UI layer only): the signed-in user, or a redirect to sign-in. A revoked session
 * goes through /api/session/end, which clears the cookie. Each page calls this itself, because a
 * layout is not re-rendered on every client-side navigation.
 */
export async function requirePageUser(permission?: Permission) {
  const state = await getSessionState();
  if (state.status !== 'signed-in') {
    // Back to this page after signing in: a shared diagnosis link, or a session that ended mid-task.
    const back = safeReturnPath((await headers()).get(REQUEST_PATH_HEADER));
    const callback = back && back !== '/' ? `callbackUrl=${encodeURIComponent(back)}` : '';
    if (state.status === 'signed-out') redirect(`/signin${callback ? `?${callback}` : ''}`);
    redirect(`/api/session/end?reason=${state.reason}${callback ? `&${callback}` : ''}`);
  }
  if (permission && !can(state.actor.role, permission)) {
    // A page a role may not open is probed like an action it may not run: it leaves a trace.
    const path = safeReturnPath((await headers()).get(REQUEST_PATH_HEADER)) ?? null;
    await recordAudit(getDb(), state.actor, { action: 'page.open', outcome: 'denied', details: { path, permission } }).catch(() => {});
    redirect('/forbidden');
  }
  return state;
}
