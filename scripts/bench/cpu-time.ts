import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (scheduler run time of every thread, ms) of each matching process on Linux, by pid, from
 * /proc/<pid>/task/<tid>/schedstat — exact, unlike the tick-sampled user/system times, which on a
 * VM charge short bursts to whoever holds the tick. null where /proc is not there.
 */
function cpuTimeByPid(match: (pid: number, command: string) => boolean): Map<string, number> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  // Keyed by pid and start time (field 22 of /proc/<pid>/stat), so a pid reused meanwhile is another process.
  const times = new Map<string, number>();
  for (const pid of pids) {
    try {
      if (!match(Number(pid), readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const startedAt = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      let ns = 0;
      for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      times.set(`${pid}:${startedAt}`, ns / 1e6);
    } catch {
      // The process ended meanwhile.
    }
  }
  return times;
}

/**
 * CPU time spent by each side between start() and the returned function's call: per process, the
 * time it gained in between (a process started meanwhile counts from zero). A process that ended
 * meanwhile (an idle database connection closing) is left out, and with it what it spent in the
 * window; so is a thread that ended (its run time leaves its process's sum). Context figures, not
 * the measure: the bench's ratios are wall times.
 */
export function cpuMeter(sides: Record<string, (pid: number, command: string) => boolean>): () => Record<string, number> | null {
  const read = () => Object.fromEntries(Object.entries(sides).map(([name, match]) => [name, cpuTimeByPid(match)]));
  const before = read();
  return () => {
    const after = read();
    const out: Record<string, number> = {};
    for (const name of Object.keys(sides)) {
      const start = before[name];
      const end = after[name];
      if (!start || !end) return null;
      let ms = 0;
      for (const [key, t] of end) ms += Math.max(0, t - (start.get(key) ?? 0));
      out[name] = ms;
    }
    return out;
  };
}
