/**
 * `npm test`: every test. Vitest (unit + integration against PostgreSQL and the sandbox), then the
 * production build, then Playwright against it in Chromium. With DATABASE_URL unset, both use
 * embedded PostgreSQL servers of their own. Ends with one plain summary line over both runners.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const reports = path.resolve('.data/reports');
mkdirSync(reports, { recursive: true });
const vitestReport = path.join(reports, 'vitest.json');
const playwrightReport = path.join(reports, 'playwright.json');
rmSync(vitestReport, { force: true });
rmSync(playwrightReport, { force: true });

const only = process.argv.slice(2);
const wants = (part: string) => only.length === 0 || only.includes(part);

function run(label: string, command: string, args: string[], env: Record<string, string> = {}): boolean {
  console.info(`\n=== ${label} ===`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status === 0;
}

let ok = true;
if (wants('unit')) {
  ok = run('Vitest: unit and integration', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestReport}`]) && ok;
}
if (wants('e2e')) {
  const built = run('Next.js production build', 'npx', ['next', 'build']);
  ok = built && ok;
  if (built) ok = run('Playwright: end to end in Chromium', 'npx', ['playwright', 'test']) && ok;
}

const counts = { passed: 0, failed: 0, skipped: 0 };
if (existsSync(vitestReport)) {
  const v = JSON.parse(readFileSync(vitestReport, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
  counts.passed += v.numPassedTests;
  counts.failed += v.numFailedTests;
  counts.skipped += v.numPendingTests + v.numTodoTests;
}
if (existsSync(playwrightReport)) {
  const p = JSON.parse(readFileSync(playwrightReport, 'utf8')) as { stats: { expected: number; unexpected: number; flaky: number; skipped: number } };
  counts.passed += p.stats.expected + p.stats.flaky;
  counts.failed += p.stats.unexpected;
  counts.skipped += p.stats.skipped;
}
if (!ok && counts.failed === 0) counts.failed = 1; // a runner that crashed before reporting still fails the run
// Never trust exit codes alone: a failed test in a report fails the run.
if (counts.failed > 0) ok = false;
console.info(`\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(ok ? 0 : 1);
