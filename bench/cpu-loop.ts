// CPU microbenchmark: a guest loop of mixed ALU, memory and branch instructions
// (bench/guests/loop.S) run for a fixed instruction count. Prints millions of guest
// instructions per second with every fast path on, and with each switched off in turn.
// Run: npm run bench   (never part of npm test)
import { Cpu } from '../src/cpu/cpu';
import { PhysMemory } from '../src/mmu/physmem';
import { Exit } from '../src/cpu/interfaces';
import type { CpuOptions } from '../src/cpu/cpu';
import { loadavg } from 'node:os';

// bench/guests/loop.bin (assembled from loop.S; embedded so the benchmark needs no assembler).
const LOOP = Uint8Array.from([
  0xb9, 0xff, 0xff, 0xff, 0x7f, 0xbe, 0x00, 0x00, 0x02, 0x00, 0x31, 0xdb, 0x31, 0xd2, 0x8b, 0x06, 0x01, 0xc8, 0x31, 0xc2,
  0x89, 0x46, 0x04, 0x83, 0xc6, 0x04, 0x81, 0xe6, 0xff, 0x0f, 0x00, 0x00, 0x81, 0xce, 0x00, 0x00, 0x02, 0x00, 0xd1, 0xe2,
  0x8d, 0x7c, 0x53, 0x08, 0x43, 0x39, 0xc3, 0x75, 0x01, 0x90, 0x52, 0x5a, 0x0f, 0xb6, 0x46, 0x01, 0x49, 0x75, 0xd3, 0xf4,
]);

/** mips: per wall-clock second; cpuMips: per second of this process's CPU time (less disturbed by a busy machine). */
export interface BenchResult { name: string; instructions: number; seconds: number; mips: number; cpuMips: number }

/** The fast-path configurations the table compares (each row switches paths off from the full set). */
export const CONFIGS: { name: string; opts: CpuOptions }[] = [
  { name: 'all fast paths on', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true } },
  { name: 'links off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: false } },
  { name: 'compile off', opts: { decodeCache: true, tlb: true, blocks: true, compile: false } },
  { name: 'blocks off (and compile)', opts: { decodeCache: true, tlb: true, blocks: false, compile: false } },
  { name: 'decode cache off (and blocks)', opts: { decodeCache: false, tlb: true, blocks: false, compile: false } },
  { name: 'every fast path off', opts: { decodeCache: false, tlb: false, blocks: false, compile: false } },
];

export function runLoop(instructions: number, opts: CpuOptions, name = ''): BenchResult {
  const mem = new PhysMemory(1 << 20);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, opts);
  mem.ram.set(LOOP, 0x10000);
  cpu.setupFlat32(0x10000);
  cpu.r32[4] = 0x80000;
  const t0 = performance.now(), u0 = process.cpuUsage();
  let exit: Exit = Exit.Budget;
  while (cpu.icount < instructions && exit === Exit.Budget) exit = cpu.run(Math.min(1_000_000, instructions - cpu.icount));
  const seconds = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0), cpuSeconds = (u.user + u.system) / 1e6;
  if (exit !== Exit.Budget) throw new Error(`benchmark guest stopped early: exit ${exit} ${cpu.guestError}`);
  return { name, instructions: cpu.icount, seconds, mips: cpu.icount / seconds / 1e6, cpuMips: cpu.icount / cpuSeconds / 1e6 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const isMain = import.meta.url === `file://${process.argv[1]}` && process.argv[1].includes('cpu-loop');
export const __loop = runLoop;
if (isMain) {
  const n = Number(process.env.BENCH_INSNS ?? 30_000_000);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const only = process.env.BENCH_ONLY;
  const configs = CONFIGS.filter((c) => !only || c.name.startsWith(only));
  runLoop(2_000_000, CONFIGS[0].opts); // warm up V8
  console.log(`ts86 CPU microbenchmark (bench/guests/loop.S): ${n / 1e6} M guest instructions, median of ${runs} runs`);
  console.log(`node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString().slice(0, 10)}`);
  for (const c of configs) {
    // Slow configurations run a tenth of the instructions (the rate is what matters).
    const count = c.opts.decodeCache ? n : Math.max(1_000_000, Math.floor(n / 10));
    const rs = Array.from({ length: runs }, () => runLoop(count, c.opts, c.name));
    const m = median(rs.map((r) => r.mips));
    const mc = median(rs.map((r) => r.cpuMips));
    console.log(`  ${c.name.padEnd(32)} ${m.toFixed(1).padStart(7)} MIPS  ${mc.toFixed(1).padStart(7)} MIPS/CPU-s   (runs: ${rs.map((r) => r.mips.toFixed(1)).join(', ')})`);
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}
