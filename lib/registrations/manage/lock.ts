import 'server-only';
import pg from 'pg';
import { databaseUrl } from '@/db/client';
import { AppError } from '@/lib/errors';

const WAIT_MS = 35_000;
const POLL_MS = 150;

/**
 * Runs `fn` while holding a PostgreSQL advisory lock for this registration, so that RFC 7592 calls
 * on one registration never overlap: the hospital rotates the registration access token on
 * update, and a second call made with the token the first one just retired would get a 401 and
 * look like lost management. The lock lives on a connection of its own (not the pool), so a
 * burst of operations cannot starve their own queries of pooled connections; it is released
 * when `fn` settles, or by PostgreSQL if the process dies.
 */
export async function withRegistrationLock<T>(registrationId: string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  client.on('error', () => {
    // The lock connection dropped: PostgreSQL released the lock; the operation itself goes on.
  });
  await client.connect();
  const key = `registration-manage:${registrationId.toLowerCase()}`;
  try {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as locked', [key]);
      if (rows[0]?.locked) break;
      if (Date.now() > deadline) {
        throw new AppError('CONFLICT', 'Another operation on this registration is still talking to the hospital. Try again in a minute.');
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    try {
      return await fn();
    } finally {
      await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
}
