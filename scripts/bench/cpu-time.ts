import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (scheduler run time of every thread, ms) of each matching process on Linux, by pid, from
 * /proc/<pid>/task/<tid>/schedstat — exact, unlike the tick-sampled user/system times, which on a
 * VM charge short bursts to whoever holds the tick. null where /proc is not there.
 */
function cpuTimeByPid(match: (pid: number, command: string) => boolean): Map<number, number> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  const times = new Map<number, number>();
  for (const pid of pids) {
    try {
      if (!match(Number(pid), readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) continue;
      let ns = 0;
      for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      times.set(Number(pid), ns / 1e6);
    } catch {
      // The process ended meanwhile.
    }
  }
  return times;
}

/**
 * CPU time spent by each side between start() and the returned function's call: per process, the
 * time it gained in between (a process started meanwhile counts from zero). A process that ended
 * meanwhile (an idle database connection closing) is left out, so a side is never negative; what
 * it spent in the window before it ended is not counted.
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
      for (const [pid, t] of end) ms += t - (start.get(pid) ?? 0);
      out[name] = ms;
    }
    return out;
  };
}
