/** npm run bench: prints the figures the issues ask for. Needs `npm run build` first. */
import { benchStartup } from './bench/startup';

const rows: Array<{ label: string; value: string }> = [];
for (const r of await benchStartup()) rows.push({ label: r.label, value: `${(r.ms / 1000).toFixed(2)} s (goal ≤ 5 s)` });

console.info('\nRegistrar benchmarks (2 cores; figures from this run)\n');
const width = Math.max(...rows.map((r) => r.label.length));
for (const r of rows) console.info(`${r.label.padEnd(width)}  ${r.value}`);
