/** npm run recover: imports registrations kept in encrypted recovery files (see lib/registrations/recovery.ts). */
import { closeDb } from '@/db/client';
import { importRecoveryFiles, recoveryDir } from '@/lib/registrations/recovery';
import { prepareDatabase } from './lib/launch';

const db = await prepareDatabase();
try {
  console.info(`Looking for recovery files in ${recoveryDir()}`);
  const { imported, failed } = await importRecoveryFiles((line) => console.info(line));
  console.info(`Imported ${imported}, failed ${failed}.`);
  process.exitCode = failed > 0 ? 1 : 0;
} finally {
  await closeDb();
  await db.stop();
}
