import 'server-only';
import { env } from '@/lib/env';
import { describeDatabaseUrl } from './client';
import { startEmbeddedPostgres } from './embedded';

export type ResolvedDatabase = { url: string; description: string; embedded: boolean; stop(): Promise<void> };

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL under REGISTRAR_DATA_DIR.
 * The description is safe to print (no password).
 */
export async function resolveDatabase(opts: { database?: string; log?: (line: string) => void } = {}): Promise<ResolvedDatabase> {
  const e = env();
  if (e.DATABASE_URL) {
    return { url: e.DATABASE_URL, description: describeDatabaseUrl(e.DATABASE_URL), embedded: false, stop: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({
    dataDir: e.REGISTRAR_DATA_DIR,
    port: e.REGISTRAR_EMBEDDED_PG_PORT,
    database: opts.database ?? 'registrar',
    log: opts.log,
  });
  return { ...embedded, embedded: true };
}
