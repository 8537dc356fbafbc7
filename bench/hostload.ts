// How busy the host was while a benchmark ran: the share of CPU time the hypervisor took
// away from this virtual machine ("steal", the 8th field of /proc/stat's `cpu` line,
// proc(5)). On the development host it ranges from ~0 to ~25% by the hour, and it slows
// every emulator in the table alike only if they run at the same time: the boot table
// therefore interleaves its runs (ts86, then each peer, round by round) and prints the
// steal seen during each run.
import { readFileSync } from 'node:fs';

/** Aggregate CPU times in clock ticks: all fields summed, and the steal field. */
export interface CpuTimes { total: number; steal: number }

/** Parses the aggregate `cpu` line of /proc/stat (null when there is none). */
export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return null;
  // user nice system idle iowait irq softirq steal guest guest_nice: guest time is
  // already counted in user/nice, so only the first eight fields make up the total.
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) return null;
  return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
}

/** This host's CPU times now, or null where /proc/stat is not readable (not Linux). */
export function readCpuTimes(): CpuTimes | null {
  try { return parseProcStat(readFileSync('/proc/stat', 'utf8')); } catch { return null; }
}

/** Steal between two readings as a percentage of all CPU time in between (NaN if unknown). */
export function stealPercent(a: CpuTimes | null, b: CpuTimes | null): number {
  if (!a || !b || b.total <= a.total) return NaN;
  return (100 * (b.steal - a.steal)) / (b.total - a.total);
}

/** Runs `f` and returns its result with the host's steal during it (percent, NaN if unknown). */
export async function withSteal<T>(f: () => Promise<T>): Promise<[T, number]> {
  const a = readCpuTimes();
  const r = await f();
  return [r, stealPercent(a, readCpuTimes())];
}
