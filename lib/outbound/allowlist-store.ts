import 'server-only';
import { asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { isUniqueViolation } from '@/db/errors';
import { outboundAllowlist } from '@/db/schema';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { AppError } from '@/lib/errors';
import { parseAllowlistEntry, type AllowlistEntry } from '@/lib/oauth/allowlist';

export const addAllowlistEntrySchema = z.object({
  entry: z.string().trim().min(1, 'Enter a host, host:port or CIDR.').max(300),
  note: z.string().trim().max(500).optional().transform((v) => v || undefined),
});

export async function listAllowlistEntries(actor: Actor) {
  assertCan(actor, 'settings:manage');
  return getDb()
    .select({ id: outboundAllowlist.id, entry: outboundAllowlist.entry, note: outboundAllowlist.note, createdAt: outboundAllowlist.createdAt })
    .from(outboundAllowlist)
    .orderBy(asc(outboundAllowlist.entry));
}

/** The admin-managed entries as parsed rules, for the safe outbound fetch (no actor: internal). */
export async function loadAllowlistRules(): Promise<AllowlistEntry[]> {
  const rows = await getDb().select({ entry: outboundAllowlist.entry }).from(outboundAllowlist);
  return allowlistRulesFrom(rows.map((row) => row.entry));
}

/** Stored entries as rules (for a caller that read them along with other data in one query). */
export function allowlistRulesFrom(entries: readonly string[]): AllowlistEntry[] {
  return entries.flatMap((entry) => {
    try {
      return [parseAllowlistEntry(entry)];
    } catch {
      return []; // validated on insert; a row that no longer parses permits nothing
    }
  });
}

/** A query column with every stored entry, to read the allowlist in the same round trip as other data. */
export const allowlistEntriesColumn = sql<string[]>`(select coalesce(array_agg(${outboundAllowlist.entry}), '{}') from ${outboundAllowlist})`;

export async function addAllowlistEntry(actor: Actor, input: z.input<typeof addAllowlistEntrySchema>) {
  assertCan(actor, 'settings:manage');
  const data = addAllowlistEntrySchema.parse(input);
  const parsed = parseAllowlistEntry(data.entry);
  return auditedMutation(actor, { action: 'allowlist.add', targetType: 'allowlist', details: { entry: parsed.raw } }, async (tx) => {
    const [row] = await tx
      .insert(outboundAllowlist)
      .values({ entry: parsed.raw, note: data.note ?? null, createdBy: actor.type === 'user' ? actor.id : null })
      .returning({ id: outboundAllowlist.id })
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw new AppError('CONFLICT', `${parsed.raw} is already on the allowlist.`, { field: 'entry' });
        throw error;
      });
    if (!row) throw new AppError('CONFLICT', 'The entry could not be added.');
    return { result: row, targetId: row.id };
  });
}

export async function removeAllowlistEntry(actor: Actor, input: { id: string }) {
  assertCan(actor, 'settings:manage');
  const { id } = z.object({ id: z.uuid() }).parse(input);
  return auditedMutation(actor, { action: 'allowlist.remove', targetType: 'allowlist', targetId: id }, async (tx) => {
    const removed = await tx.delete(outboundAllowlist).where(eq(outboundAllowlist.id, id)).returning({ entry: outboundAllowlist.entry });
    if (removed.length === 0) throw new AppError('NOT_FOUND', 'That allowlist entry does not exist.');
    return { result: { id }, details: { entry: removed[0]?.entry } };
  });
}
