/** npm run db:seed -- --scale N: N synthetic registrations over N/10 issuers (for demos at scale and benchmarks). */
import { parseArgs } from 'node:util';
import { closeDb } from '@/db/client';
import { seedScale } from '@/db/seed';
import { prepareDatabase } from './lib/launch';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1000' } } });
const scale = Number(values.scale);
if (!Number.isInteger(scale) || scale < 1 || scale > 1_000_000) {
  console.error('Usage: npm run db:seed -- --scale N   (1 ≤ N ≤ 1,000,000)');
  process.exit(1);
}
const db = await prepareDatabase();
try {
  const t = performance.now();
  const result = await seedScale(scale);
  console.info(`Seeded ${result.registrations} registrations over ${result.issuers} issuers in ${result.healthSystems} health systems in ${((performance.now() - t) / 1000).toFixed(1)} s.`);
} finally {
  await closeDb();
  await db.stop();
}
