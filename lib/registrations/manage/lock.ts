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
