/**
 * npm run bench: prints the figures the issues ask for. The start-up figure needs `npm run build`
 * first (it is skipped with a note otherwise). `npm run bench -- discovery` runs one section;
 * `--rotations 200` shortens the rotation section while iterating.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { closeDb } from '@/db/client';
import { BenchRefused, freshBenchDatabase } from './bench/db';
import { benchDiscovery } from './bench/discovery';
import { benchRegistration } from './bench/registration';
import { benchRegistrationsTable } from './bench/registrations-table';
import { benchBulkRotation, benchRotationScan } from '@/lib/rotation/bench';
import { startSandboxProcess } from './bench/sandbox-process';
import { benchStartup } from './bench/startup';
import { cpuMeter } from './bench/cpu-time';

function usage(message: string): never {
  console.error(`npm run bench: ${message}\nUsage: npm run bench [-- <section> ...] [--rotations N]`);
  process.exit(2);
}
let parsed: { values: { rotations: string }; positionals: string[] };
try {
  parsed = parseArgs({ allowPositionals: true, options: { rotations: { type: 'string', default: '1000' } } });
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const { values: options, positionals: only } = parsed;
const rotationCount = Number(options.rotations);
if (!Number.isInteger(rotationCount) || rotationCount < 1) usage(`--rotations must be a positive whole number, not "${options.rotations}".`);
const SECTIONS = ['startup', 'discovery', 'registration', 'table', 'rotation-scan', 'rotation'];
const unknown = only.filter((s) => !SECTIONS.includes(s));
if (unknown.length) usage(`unknown section ${unknown.map((s) => `"${s}"`).join(', ')}; the sections are ${SECTIONS.join(', ')}.`);
const wants = (s: string) => only.length === 0 || only.includes(s);
const rows: Array<{ label: string; value: string }> = [];

let db: Awaited<ReturnType<typeof freshBenchDatabase>>;
try {
  db = await freshBenchDatabase();
} catch (error) {
  if (!(error instanceof BenchRefused)) throw error;
  console.error(`npm run bench: ${error.message}`);
  process.exit(1);
}

try {
  // After the lock above: the start-up figure uses fixed ports of its own.
  if (wants('startup')) {
    try {
      for (const r of await benchStartup()) rows.push({ label: r.label, value: `${(r.ms / 1000).toFixed(2)} s (goal ≤ 5 s)` });
    } catch (error) {
      rows.push({ label: 'start-up', value: `skipped: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  // The bench's own vault key: nothing it stores outlives the run.
  process.env.REGISTRAR_KEY ??= randomBytes(32).toString('base64');
  if (wants('discovery')) rows.push(...(await benchDiscovery()));
  if (wants('registration')) rows.push(...(await benchRegistration()));
  if (wants('table')) rows.push(...(await benchRegistrationsTable(db.url)));
  if (wants('rotation-scan')) rows.push(...(await benchRotationScan()));
  if (wants('rotation')) {
    const startHospital = () => startSandboxProcess({ generalIssuesSecretOnUpdate: true });
    // Where the time goes on this machine: the job path is bound by the CPU the three sides share.
    const measureCpu = (hospitalPid: number | undefined) =>
      cpuMeter({
        'this process (Registrar, or the raw client)': (pid) => pid === process.pid,
        PostgreSQL: (_, command) => command.startsWith('postgres'),
        hospital: (pid) => pid === hospitalPid,
      });
    rows.push(...(await benchBulkRotation({ count: rotationCount, startHospital, measureCpu })));
  }
} finally {
  await closeDb();
  await db.stop();
}

console.info('\nRegistrar benchmarks (this machine; figures from this run)\n');
const width = Math.max(...rows.map((r) => r.label.length));
for (const r of rows) console.info(`${r.label.padEnd(width)}  ${r.value}`);
