import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { env } from '@/lib/env';

export type RateLimitState = {
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
  allowed: boolean;
};

/**
 * Counts one request against the token's fixed window in `api_rate_limits` with a single upsert,
 * so every instance shares the count and concurrent requests cannot both take the last slot.
 * The window starts at the first request after the previous one ended.
 */
export async function consumeRateLimit(tokenId: string, opts: { limit?: number; windowSeconds?: number } = {}): Promise<RateLimitState> {
  const limit = opts.limit ?? env().REGISTRAR_API_RATE_LIMIT;
  const windowSeconds = opts.windowSeconds ?? env().REGISTRAR_API_RATE_WINDOW_SECONDS;
  const window = sql`make_interval(secs => ${windowSeconds})`;
  const result = await getDb().execute<{ count: number; reset_ms: string }>(sql`
    insert into api_rate_limits as l (token_id, window_started_at, count)
    values (${tokenId}, now(), 1)
    on conflict (token_id) do update set
      window_started_at = case when l.window_started_at <= now() - ${window} then now() else l.window_started_at end,
      count = case when l.window_started_at <= now() - ${window} then 1 else l.count + 1 end
    returning count, (extract(epoch from (window_started_at + ${window} - now())) * 1000)::bigint::text as reset_ms`);
  const row = result.rows[0];
  const count = Number(row?.count ?? 1);
  const resetSeconds = Math.max(1, Math.ceil(Number(row?.reset_ms ?? windowSeconds * 1000) / 1000));
  return { limit, remaining: Math.max(0, limit - count), resetSeconds, allowed: count <= limit };
}
