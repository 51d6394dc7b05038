/** npm run db:reset: drops every table and re-applies the migrations. Loopback databases only. */
import pg from 'pg';
import { resolveDatabase } from '@/db/bootstrap';
import { runMigrations } from '@/db/migrate';

const db = await resolveDatabase();
// The host pg will connect to, as pg itself reads the URL: it honours ?host= (the URL's hostname
// alone would let postgres://…@localhost/x?host=db.prod through), and a URL it cannot read is
// refused here without printing it (it holds the password).
let host: string | undefined;
try {
  host = new pg.Client({ connectionString: db.url }).host;
} catch {
  host = undefined;
}
if (!host || !(host.startsWith('/') || ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host))) {
  console.error(`Refusing to reset ${db.description}: db:reset only works against a loopback database.`);
  await db.stop();
  process.exit(1);
}
const client = new pg.Client({ connectionString: db.url });
await client.connect();
try {
  await client.query('drop schema if exists public cascade; drop schema if exists drizzle cascade; drop schema if exists pgboss cascade; create schema public;');
} finally {
  await client.end();
}
await runMigrations(db.url);
console.info(`Reset ${db.description}.`);
await db.stop();
