import 'server-only';
import { getLockPool } from '@/db/client';
import { AppError } from '@/lib/errors';

const WAIT_MS = 35_000;
const POLL_MS = 150;

/**
 * Runs `fn` while holding a PostgreSQL advisory lock for this registration, so that RFC 7592 calls
 * on one registration never overlap: the hospital rotates the registration access token on
 * update, and a second call made with the token the first one just retired would get a 401 and
 * look like lost management. The lock lives on a connection of the lock pool (not the main pool),
 * so a burst of operations cannot starve their own queries of pooled connections; it is released
 * when `fn` settles, or by PostgreSQL if the process dies. A connection whose unlock failed is
 * discarded rather than returned with the lock still held.
 */
export async function withRegistrationLock<T>(registrationId: string, fn: () => Promise<T>): Promise<T> {
  const client = await getLockPool().connect();
  const key = `registration-manage:${registrationId.toLowerCase()}`;
  let healthy = true;
  const query = async <R extends Record<string, unknown>>(text: string): Promise<R | undefined> => {
    try {
      return (await client.query<R>(text, [key])).rows[0];
    } catch (error) {
      healthy = false;
      throw error;
    }
  };
  try {
    const deadline = Date.now() + WAIT_MS;
    while (!(await query<{ locked: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as locked'))?.locked) {
      if (Date.now() > deadline) {
        throw new AppError('CONFLICT', 'Another operation on this registration is still talking to the hospital. Try again in a minute.');
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    try {
      return await fn();
    } finally {
      const released = await query<{ unlocked: boolean }>('select pg_advisory_unlock(hashtextextended($1, 0)) as unlocked').catch(() => undefined);
      if (released?.unlocked !== true) healthy = false;
    }
  } finally {
    client.release(!healthy);
  }
}

/**
 * withRegistrationLock for many registrations at once (bulk rotation): tries every lock in one
 * statement on one connection, runs `fn` with the registrations it got (the others are busy and
 * left to their own run), and releases them in one statement.
 */
export async function withRegistrationLocks<T>(registrationIds: readonly string[], fn: (locked: ReadonlySet<string>) => Promise<T>): Promise<T> {
  const keys = [...new Set(registrationIds.map((id) => id.toLowerCase()))];
  const client = await getLockPool().connect();
  let healthy = true;
  let locked = new Set<string>();
  try {
    try {
      const { rows } = await client.query<{ id: string; locked: boolean }>(
        `select id, pg_try_advisory_lock(hashtextextended('registration-manage:' || id, 0)) as locked from unnest($1::text[]) as id`,
        [keys],
      );
      locked = new Set(rows.filter((r) => r.locked).map((r) => r.id));
    } catch (error) {
      healthy = false;
      throw error;
    }
    try {
      return await fn(locked);
    } finally {
      if (locked.size) {
        const released = await client
          .query<{ unlocked: boolean }>(`select pg_advisory_unlock(hashtextextended('registration-manage:' || id, 0)) as unlocked from unnest($1::text[]) as id`, [[...locked]])
          .catch(() => undefined);
        if (!released || released.rows.some((r) => r.unlocked !== true)) healthy = false;
      }
    }
  } finally {
    client.release(!healthy);
  }
}
