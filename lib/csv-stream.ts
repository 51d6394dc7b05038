import 'server-only';
import Cursor from 'pg-cursor';
import { getPool } from '@/db/client';

/**
 * Streams a query as CSV from a server-side cursor, `batchSize` rows at a time, so an export of
 * any size holds one batch in memory. The connection goes back to the pool when the stream ends,
 * fails or is cancelled by the client.
 */
export async function streamQueryAsCsv(input: {
  query: { sql: string; params: unknown[] };
  header: string[];
  toLine: (row: unknown[], now: Date) => string;
  batchSize?: number;
}): Promise<ReadableStream<Uint8Array>> {
  const client = await getPool().connect();
  const cursor = client.query(new Cursor(input.query.sql, input.query.params, { rowMode: 'array' }));
  const encoder = new TextEncoder();
  let headerSent = false;
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await cursor.close().catch(() => {});
    client.release();
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
        await release();
        controller.error(error);
      }
    },
    async cancel() {
      await release();
    },
  });
}
