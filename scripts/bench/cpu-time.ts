import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (scheduler run time of every thread, ms) of processes on Linux, from /proc/<pid>/task/
 * <tid>/schedstat — exact, unlike the tick-sampled user/system times, which on a VM charge short
 * bursts to whoever holds the tick. null where /proc is not there.
 */
export function cpuTimeMs(match: (pid: number, command: string) => boolean): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  let ns = 0;
  for (const pid of pids) {
    try {
      if (!match(Number(pid), readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) continue;
      for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ns / 1e6;
}

/** CPU time spent by each side between start() and the returned function's call. */
export function cpuMeter(sides: Record<string, (pid: number, command: string) => boolean>): () => Record<string, number> | null {
  const read = () => Object.fromEntries(Object.entries(sides).map(([name, match]) => [name, cpuTimeMs(match)]));
  const before = read();
  return () => {
    const after = read();
    const out: Record<string, number> = {};
    for (const name of Object.keys(sides)) {
      if (before[name] === null || after[name] === null) return null;
      out[name] = after[name]! - before[name]!;
    }
    return out;
  };
}
