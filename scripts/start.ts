/**
 * `npm start` (production) and `npm run dev`: database first (embedded unless DATABASE_URL is set),
 * migrations, then Next.js. Production never starts the sandbox.
 */
import { ensureSessionSecret, prepareDatabase, runNext } from './lib/launch';

const mode = process.argv.includes('--dev') ? 'dev' : 'start';
const db = await prepareDatabase();
const secret = ensureSessionSecret();
runNext(mode, { DATABASE_URL: db.url, NEXTAUTH_SECRET: secret }, () => db.stop());
