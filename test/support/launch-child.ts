/**
 * The launcher (scripts/lib/launch.ts runNext) with a stand-in for Next, for launch.test.ts.
 * argv[2]: what the stand-in does — `exit:N` exits N, `kill` dies of SIGKILL (as out of memory
 * does), `wait` waits for a signal and exits 128 + its number (as next start does).
 * Prints "on-exit" when the launcher's clean-up runs (it stops the embedded database there).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runNext } from '../../scripts/lib/launch';

const behaviour = process.argv[2] ?? 'exit:0';
const standIn = path.join(os.tmpdir(), `registrar-next-stand-in-${process.pid}.mjs`);
writeFileSync(
  standIn,
  `const b = ${JSON.stringify(behaviour)};
   if (b === 'wait') { process.on('SIGTERM', () => process.exit(143)); setInterval(() => {}, 1000); }
   console.log('stand-in started');
   if (b.startsWith('exit:')) process.exit(Number(b.slice(5)));
   else if (b === 'kill') process.kill(process.pid, 'SIGKILL');`,
);
runNext('start', {}, async () => {
  process.stdout.write('on-exit\n');
}, standIn);
