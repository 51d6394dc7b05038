import { eq, or } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { issuers } from '@/db/schema';
import type { Actor } from '@/lib/auth/actor';
import { isAppError } from '@/lib/errors';
import { addIssuer } from '@/lib/issuers/add-issuer';
import { refreshIssuer } from '@/lib/issuers/refresh-issuer';

/**
 * addIssuer for tests that start a sandbox: ephemeral ports are reused within a run, so another
 * test file may already have added a server on the same URL (an issuer URL can be added once).
 * Then the existing issuer is refreshed against the server now listening there and reused.
 */
export async function addSandboxIssuer(actor: Actor, input: Parameters<typeof addIssuer>[1]) {
  try {
    return await addIssuer(actor, input);
  } catch (error) {
    if (!isAppError(error) || error.code !== 'CONFLICT') throw error;
    const [existing] = await getDb()
      .select({ id: issuers.id })
      .from(issuers)
      .where(or(eq(issuers.inputUrl, input.url), eq(issuers.issuerUrl, input.url)))
      .limit(1);
    if (!existing) throw error;
    if (input.epicClientId) await getDb().update(issuers).set({ epicClientId: input.epicClientId }).where(eq(issuers.id, existing.id));
    await refreshIssuer(actor, existing.id);
    const [row] = await getDb().select().from(issuers).where(eq(issuers.id, existing.id));
    const endpoints = Object.fromEntries(Object.entries(row!.endpoints).map(([k, v]) => [k, { ...v }]));
    return { id: existing.id, issuer: row!.issuerUrl, discovery: { endpoints } as Awaited<ReturnType<typeof addIssuer>>['discovery'] };
  }
}
