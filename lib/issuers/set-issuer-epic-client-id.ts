import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { issuers } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { refreshIssuer, type RefreshOutcome } from './refresh-issuer';
import { setIssuerEpicClientIdSchema, type SetIssuerEpicClientIdInput } from './schemas';

export type SetEpicClientIdResult = {
  issuerId: string;
  epicClientId: string | null;
  /** False when the value was already stored: discovery still ran again, as a plain refresh. */
  changed: boolean;
  refresh: RefreshOutcome;
  /** The registration endpoint Registrar uses, before and after. */
  registrationEndpoint: { before: string | null; after: string | null };
};

/**
 * Epic advertises its `register` endpoint only to callers that send `Epic-Client-ID`: sets, replaces
 * or removes the issuer's Epic client id, then runs discovery again with it.
 *
 * A refresh holds a registration endpoint that appears, disappears or moves until a person accepts
 * it. Here the person's own change of the Epic client id is what makes Epic publish a different
 * one, and that change is theirs, made on purpose and audited: so this run applies the registration
 * endpoint it finds instead of holding it. Only that field: a new issuer identifier or token endpoint
 * is not something the Epic client id explains, so it stays held for acceptIssuerChange. When the
 * value is unchanged nothing is accepted (re-saving must not become a quiet way to accept a moved
 * endpoint), and the run is an ordinary refresh.
 */
export async function setIssuerEpicClientId(actor: Actor, input: SetIssuerEpicClientIdInput): Promise<SetEpicClientIdResult> {
  assertCan(actor, 'health-systems:write');
  const data = setIssuerEpicClientIdSchema.parse(input);

  const stored = await auditedMutation(
    actor,
    { action: 'issuer.set_epic_client_id', targetType: 'issuer', targetId: data.issuerId, details: { epicClientId: data.epicClientId } },
    async (tx) => {
      const [row] = await tx.select({ epicClientId: issuers.epicClientId, endpoints: issuers.endpoints }).from(issuers).where(eq(issuers.id, data.issuerId)).for('update');
      if (!row) throw new AppError('NOT_FOUND', 'That issuer does not exist.');
      const changed = row.epicClientId !== data.epicClientId;
      if (changed) await tx.update(issuers).set({ epicClientId: data.epicClientId, updatedAt: new Date() }).where(eq(issuers.id, data.issuerId));
      return { result: { changed, registration: row.endpoints.registration?.value ?? null }, details: { previous: row.epicClientId, changed } };
    },
  );

  // Discovery is network I/O, so it runs after the update has committed; a failed run leaves the
  // new Epic client id stored (the next refresh uses it) and the last good metadata in place.
  const refresh = await refreshIssuer(actor, data.issuerId, { trigger: 'manual', accept: stored.changed ? ['endpoints.registration'] : [] });
  const [after] = await getDb().select({ endpoints: issuers.endpoints }).from(issuers).where(eq(issuers.id, data.issuerId)).limit(1);
  return {
    issuerId: data.issuerId,
    epicClientId: data.epicClientId,
    changed: stored.changed,
    refresh,
    registrationEndpoint: { before: stored.registration, after: after?.endpoints.registration?.value ?? null },
  };
}
