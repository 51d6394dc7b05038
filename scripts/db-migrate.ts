import { resolveDatabase } from '@/db/bootstrap';
import { runMigrations } from '@/db/migrate';

const db = await resolveDatabase();
try {
  console.info(`Database: ${db.description}`);
  await runMigrations(db.url);
  console.info('Migrations applied.');
} finally {
  await db.stop();
}
