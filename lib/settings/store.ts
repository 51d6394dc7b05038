import 'server-only';
import { eq, sql } from 'drizzle-orm';
import { getDb, type DbOrTx } from '@/db/client';
import { appSettings } from '@/db/schema';

export async function getSetting<T>(key: string, db: DbOrTx = getDb()): Promise<T | null> {
  const [row] = await db.select({ value: appSettings.value }).from(appSettings).where(eq(appSettings.key, key)).limit(1);
  return row ? (row.value as T) : null;
}

export async function putSetting(db: DbOrTx, key: string, value: unknown): Promise<void> {
  await db
    .insert(appSettings)
    .values({ key, value })
    .onConflictDoUpdate({ target: appSettings.key, set: { value, updatedAt: new Date() } });
}

/**
 * Merges `patch` into an object setting in one statement (top-level keys, as `{ ...stored, ...patch }`),
 * so writers of different keys never lose each other's change (read, merge and write would). Returns
 * the stored result.
 */
export async function mergeSetting(db: DbOrTx, key: string, patch: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await db.execute<{ value: Record<string, unknown> }>(sql`
    insert into ${appSettings} (key, value) values (${key}, ${JSON.stringify(patch)}::jsonb)
    on conflict (key) do update
       set value = (case when jsonb_typeof(${appSettings}.value) = 'object' then ${appSettings}.value else '{}'::jsonb end) || excluded.value,
           updated_at = now()
    returning value`);
  return result.rows[0]!.value;
}
