import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { isUuid } from '@/lib/ids';

/**
 * Runs `fn` while the database refuses new credentials of this owner (a full disk, say: a fault no
 * real peer produces on demand), by a trigger of its own name, so test files running at the same
 * time on the same database never drop each other's.
 */
export async function whileCredentialsRefused<T>(ownerId: string, fn: () => Promise<T>): Promise<T> {
  if (!isUuid(ownerId)) throw new Error(`not an owner id: ${ownerId}`);
  const name = `refuse_credentials_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await getDb().execute(sql.raw(`create function ${name}() returns trigger language plpgsql as $$ begin if new.owner_id = '${ownerId}' then raise exception 'disk full (simulated)'; end if; return new; end $$`));
  await getDb().execute(sql.raw(`create trigger ${name} before insert on credentials for each row execute function ${name}()`));
  try {
    return await fn();
  } finally {
    await getDb().execute(sql.raw(`drop trigger ${name} on credentials`));
    await getDb().execute(sql.raw(`drop function ${name}()`));
  }
}
