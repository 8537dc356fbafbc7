// CPU microbenchmark: a guest loop of mixed ALU, memory and branch instructions
// (bench/guests/loop.S) run for a fixed instruction count. Prints millions of guest
// instructions per second, with the decoded-instruction cache on and off.
// Run: npm run bench   (never part of npm test)
import { Cpu } from '../src/cpu/cpu';
import { PhysMemory } from '../src/mmu/physmem';
import { Exit } from '../src/cpu/interfaces';

// bench/guests/loop.bin (assembled from loop.S; embedded so the benchmark needs no assembler).
const LOOP = Uint8Array.from([
  0xb9, 0xff, 0xff, 0xff, 0x7f, 0xbe, 0x00, 0x00, 0x02, 0x00, 0x31, 0xdb, 0x31, 0xd2, 0x8b, 0x06, 0x01, 0xc8, 0x31, 0xc2,
  0x89, 0x46, 0x04, 0x83, 0xc6, 0x04, 0x81, 0xe6, 0xff, 0x0f, 0x00, 0x00, 0x81, 0xce, 0x00, 0x00, 0x02, 0x00, 0xd1, 0xe2,
  0x8d, 0x7c, 0x53, 0x08, 0x43, 0x39, 0xc3, 0x75, 0x01, 0x90, 0x52, 0x5a, 0x0f, 0xb6, 0x46, 0x01, 0x49, 0x75, 0xd3, 0xf4,
]);

export interface BenchResult { name: string; instructions: number; seconds: number; mips: number }

export function runLoop(instructions: number, decodeCache: boolean): BenchResult {
  const mem = new PhysMemory(1 << 20);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, { decodeCache });
  mem.ram.set(LOOP, 0x10000);
  cpu.setupFlat32(0x10000);
  cpu.r32[4] = 0x80000;
  const t0 = performance.now();
  let exit: Exit = Exit.Budget;
  while (cpu.icount < instructions && exit === Exit.Budget) exit = cpu.run(Math.min(1_000_000, instructions - cpu.icount));
  const seconds = (performance.now() - t0) / 1000;
  if (exit !== Exit.Budget) throw new Error(`benchmark guest stopped early: exit ${exit} ${cpu.guestError}`);
  return { name: `cpu-loop, decode cache ${decodeCache ? 'on' : 'off'}`, instructions: cpu.icount, seconds, mips: cpu.icount / seconds / 1e6 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
export const __loop = runLoop;
if (isMain) {
  const n = Number(process.env.BENCH_INSNS ?? 30_000_000);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  runLoop(2_000_000, true); // warm up the JIT
  console.log(`ts86 CPU microbenchmark: ${n / 1e6} M guest instructions, median of ${runs} runs (node ${process.version})`);
  const modes = process.env.BENCH_ONLY === 'on' ? [true] : process.env.BENCH_ONLY === 'off' ? [false] : [true, false];
  for (const cache of modes) {
    const rs = Array.from({ length: runs }, () => runLoop(n, cache));
    const m = median(rs.map((r) => r.mips));
    console.log(`  ${rs[0].name.padEnd(32)} ${m.toFixed(1).padStart(7)} MIPS   (runs: ${rs.map((r) => r.mips.toFixed(1)).join(', ')})`);
  }
}
