import 'server-only';
import Cursor from 'pg-cursor';
import type pg from 'pg';
import { EXPORT_CONNECTIONS, getExportPool } from '@/db/client';
import { AppError } from '@/lib/errors';

/**
 * Streams a query as CSV from a server-side cursor, `batchSize` rows at a time, so an export of
 * any size holds one batch in memory, on a connection of the export pool (getExportPool). The
 * connection goes back to the pool when the stream ends, fails or is cancelled by the client.
 */
export async function streamQueryAsCsv(input: {
  query: { sql: string; params: unknown[] };
  header: string[];
  toLine: (row: unknown[], now: Date) => string;
  batchSize?: number;
}): Promise<ReadableStream<Uint8Array>> {
  let client: pg.PoolClient;
  try {
    client = await getExportPool().connect();
  } catch (error) {
    // Every export connection is streaming someone's download (getExportPool).
    throw new AppError('RATE_LIMITED', `${EXPORT_CONNECTIONS} exports are being downloaded already. Try again when one has finished.`, { retryAfterSeconds: 30 }, { cause: error });
  }
  const cursor = client.query(new Cursor(input.query.sql, input.query.params, { rowMode: 'array' }));
  const encoder = new TextEncoder();
  let headerSent = false;
  let released = false;
  // A connection that failed (ended by the server after a stalled download, say) is not reused.
  const release = async (failed = false) => {
    if (released) return;
    released = true;
    await cursor.close().catch(() => {});
    client.release(failed);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(input.header.join(',') + '\r\n'));
        }
        const rows = (await cursor.read(input.batchSize ?? 1_000)) as unknown as unknown[][];
        if (rows.length === 0) {
          await release();
          controller.close();
          return;
        }
        const now = new Date();
        controller.enqueue(encoder.encode(rows.map((r) => input.toLine(r, now)).join('')));
      } catch (error) {
        await release(true);
        controller.error(error);
      }
    },
    async cancel() {
      await release();
    },
  });
}
