/**
 * A script that starts the embedded PostgreSQL (as `npm run db:migrate` or `npm run recover` do),
 * for db/embedded.test.ts: prints its URL, and on the line "stop" from stdin stops it as a script
 * does when it is done, then exits.
 */
import { createInterface } from 'node:readline';
import { startEmbeddedPostgres } from '@/db/embedded';

const [dataDir, port] = [process.argv[2]!, Number(process.argv[3])];
const db = await startEmbeddedPostgres({ dataDir, port, database: 'postgres', log: () => {} });
process.stdout.write(`url ${db.url}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'stop') {
    await db.stop();
    process.stdout.write('stopped\n');
    process.exit(0);
  }
}
