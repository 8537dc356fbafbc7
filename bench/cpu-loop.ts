// CPU microbenchmark: a guest loop of mixed ALU, memory and branch instructions
// (bench/guests/loop.S) run for a fixed instruction count. Prints millions of guest
// instructions per second with every fast path on, and with each switched off in turn.
// Run: npm run bench   (never part of npm test)
import { Cpu } from '../src/cpu/cpu';
import { PhysMemory } from '../src/mmu/physmem';
import { Exit } from '../src/cpu/interfaces';
import type { CpuOptions } from '../src/cpu/cpu';
import { loadavg } from 'node:os';
import { median } from './median';

// bench/guests/loop.bin (assembled from loop.S; embedded so the benchmark needs no assembler).
const LOOP = Uint8Array.from([
  0xb9, 0xff, 0xff, 0xff, 0x7f, 0xbe, 0x00, 0x00, 0x02, 0x00, 0x31, 0xdb, 0x31, 0xd2, 0x8b, 0x06, 0x01, 0xc8, 0x31, 0xc2,
  0x89, 0x46, 0x04, 0x83, 0xc6, 0x04, 0x81, 0xe6, 0xff, 0x0f, 0x00, 0x00, 0x81, 0xce, 0x00, 0x00, 0x02, 0x00, 0xd1, 0xe2,
  0x8d, 0x7c, 0x53, 0x08, 0x43, 0x39, 0xc3, 0x75, 0x01, 0x90, 0x52, 0x5a, 0x0f, 0xb6, 0x46, 0x01, 0x49, 0x75, 0xd3, 0xf4,
]);

// bench/guests/mpi.bin (assembled from mpi.S): the Debian boot's hottest guest code, an
// mpihelp_submul_1-shaped MUL/ADC loop and an LZMA range-decoder bit loop.
const MPI = Uint8Array.from([
  0xbc, 0x00, 0x00, 0x08, 0x00, 0xb8, 0x00, 0x00, 0x02, 0x00, 0xba, 0x00, 0x10, 0x02, 0x00, 0xb9, 0x40, 0x00, 0x00,
  0x00, 0x68, 0xb9, 0x79, 0x37, 0x9e, 0xe8, 0x7f, 0x00, 0x00, 0x00, 0x83, 0xc4, 0x04, 0xbf, 0x00, 0x30, 0x02, 0x00,
  0xbd, 0xff, 0xff, 0xff, 0xff, 0xbe, 0x78, 0x56, 0x34, 0x12, 0xbb, 0x01, 0x00, 0x00, 0x00, 0xb9, 0x00, 0x01, 0x00,
  0x00, 0x51, 0x81, 0xe3, 0xff, 0x00, 0x00, 0x00, 0x8d, 0x04, 0x5d, 0x00, 0x20, 0x02, 0x00, 0x81, 0xfd, 0xff, 0xff,
  0xff, 0x00, 0x77, 0x12, 0xc1, 0xe5, 0x08, 0xc1, 0xe6, 0x08, 0x0f, 0xb6, 0x17, 0x09, 0xd6, 0x47, 0x81, 0xe7, 0xff,
  0x3f, 0x02, 0x00, 0x89, 0xea, 0xc1, 0xea, 0x0b, 0x0f, 0xb7, 0x08, 0x0f, 0xaf, 0xd1, 0x39, 0xd6, 0x73, 0x13, 0x89,
  0xd5, 0xba, 0x00, 0x08, 0x00, 0x00, 0x29, 0xca, 0xc1, 0xea, 0x05, 0x66, 0x01, 0x10, 0x01, 0xdb, 0xeb, 0x10, 0x29,
  0xd5, 0x29, 0xd6, 0x89, 0xca, 0xc1, 0xea, 0x05, 0x66, 0x29, 0x10, 0x8d, 0x5c, 0x1b, 0x01, 0x59, 0x49, 0x75, 0xa2,
  0xe9, 0x68, 0xff, 0xff, 0xff, 0x55, 0x57, 0x56, 0x53, 0x89, 0xcb, 0x83, 0xec, 0x08, 0xf7, 0xdb, 0x89, 0x44, 0x24,
  0x04, 0x89, 0xc8, 0x31, 0xc9, 0x8d, 0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x89, 0x04, 0x24, 0x8d, 0x3c, 0x02, 0x8b,
  0x04, 0x9f, 0x31, 0xed, 0xf7, 0x64, 0x24, 0x1c, 0x01, 0xc1, 0x72, 0x22, 0x8b, 0x34, 0x24, 0x8b, 0x44, 0x24, 0x04,
  0x01, 0xf0, 0x8b, 0x34, 0x98, 0x29, 0xce, 0x89, 0xe9, 0x89, 0x34, 0x98, 0x11, 0xd1, 0x43, 0x75, 0xdb, 0x83, 0xc4,
  0x08, 0x89, 0xc8, 0x5b, 0x5e, 0x5f, 0x5d, 0xc3, 0xbd, 0x01, 0x00, 0x00, 0x00, 0xeb, 0xd7
]);

// bench/guests/lzma.bin (assembled from lzma.S): mpi.S's LZMA bit loop alone.
export const LZMA = Uint8Array.from([
  0xbc, 0x00, 0x00, 0x08, 0x00, 0xbf, 0x00, 0x30, 0x02, 0x00, 0xbd, 0xff, 0xff, 0xff, 0xff, 0xbe, 0x78, 0x56, 0x34, 0x12,
  0xbb, 0x01, 0x00, 0x00, 0x00, 0xb9, 0x00, 0x01, 0x00, 0x00, 0x51, 0x81, 0xe3, 0xff, 0x00, 0x00, 0x00, 0x8d, 0x04, 0x5d,
  0x00, 0x20, 0x02, 0x00, 0x81, 0xfd, 0xff, 0xff, 0xff, 0x00, 0x77, 0x12, 0xc1, 0xe5, 0x08, 0xc1, 0xe6, 0x08, 0x0f, 0xb6,
  0x17, 0x09, 0xd6, 0x47, 0x81, 0xe7, 0xff, 0x3f, 0x02, 0x00, 0x89, 0xea, 0xc1, 0xea, 0x0b, 0x0f, 0xb7, 0x08, 0x0f, 0xaf,
  0xd1, 0x39, 0xd6, 0x73, 0x13, 0x89, 0xd5, 0xba, 0x00, 0x08, 0x00, 0x00, 0x29, 0xca, 0xc1, 0xea, 0x05, 0x66, 0x01, 0x10,
  0x01, 0xdb, 0xeb, 0x10, 0x29, 0xd5, 0x29, 0xd6, 0x89, 0xca, 0xc1, 0xea, 0x05, 0x66, 0x29, 0x10, 0x8d, 0x5c, 0x1b, 0x01,
  0x59, 0x49, 0x75, 0xa2, 0xeb, 0x87,
]);

/** The data mpi.S and lzma.S expect: limbs at 0x20000, LZMA probabilities (all 1/2) at 0x22000, input at 0x23000. */
export function initGuestData(ram: Uint8Array): void {
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  let x = 0x2545f491;
  const next = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  for (let a = 0x20000; a < 0x22000; a += 4) view.setUint32(a, next(), true);
  for (let a = 0x22000; a < 0x22200; a += 2) view.setUint16(a, 0x400, true);
  for (let a = 0x23000; a < 0x24000; a++) ram[a] = next() & 0xff;
}

/** The guests: code bytes and the memory they expect. */
const GUESTS: Record<string, { code: Uint8Array; init: (mem: PhysMemory) => void }> = {
  loop: { code: LOOP, init: () => {} },
  mpi: { code: MPI, init: (mem) => initGuestData(mem.ram) },
  lzma: { code: LZMA, init: (mem) => initGuestData(mem.ram) },
};

/** mips: per wall-clock second; cpuMips: per second of this process's CPU time (less disturbed by a busy machine). */
export interface BenchResult { name: string; instructions: number; seconds: number; mips: number; cpuMips: number }

/** The fast-path configurations the table compares (each row switches paths off from the full set). */
export const CONFIGS: { name: string; opts: CpuOptions }[] = [
  { name: 'all fast paths on', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: true, loops: true } },
  { name: 'wasm off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, wasm: false } },
  { name: 'ramFast off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: true, ramFast: false } },
  { name: 'regions off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: true, regions: false } },
  { name: 'chain off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: false } },
  { name: 'loops off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: true, loops: false } },
  { name: 'side exits off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: false, loops: true } },
  { name: 'links off', opts: { decodeCache: true, tlb: true, blocks: true, compile: true, links: false, sideExits: true, loops: true } },
  { name: 'compile off', opts: { decodeCache: true, tlb: true, blocks: true, compile: false } },
  { name: 'blocks off (and compile)', opts: { decodeCache: true, tlb: true, blocks: false, compile: false } },
  { name: 'decode cache off (and blocks)', opts: { decodeCache: false, tlb: true, blocks: false, compile: false } },
  { name: 'every fast path off', opts: { decodeCache: false, tlb: false, blocks: false, compile: false } },
];

export function runLoop(instructions: number, opts: CpuOptions, name = '', guest = 'loop'): BenchResult {
  const mem = PhysMemory.forCpu(1 << 20, undefined, opts.wasm);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, opts);
  const g = GUESTS[guest];
  if (!g) throw new Error(`unknown benchmark guest '${guest}' (known: ${Object.keys(GUESTS).join(', ')})`);
  mem.ram.set(g.code, 0x10000);
  g.init(mem);
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


const isMain = import.meta.url === `file://${process.argv[1]}` && process.argv[1].includes('cpu-loop');
export const __loop = runLoop;
if (isMain) {
  const n = Number(process.env.BENCH_INSNS ?? 30_000_000);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const only = process.env.BENCH_ONLY;
  const guest = process.env.BENCH_GUEST ?? 'loop';
  const configs = CONFIGS.filter((c) => !only || c.name.startsWith(only));
  runLoop(2_000_000, CONFIGS[0].opts, '', guest); // warm up V8
  console.log(`ts86 CPU microbenchmark (bench/guests/${guest}.S): ${n / 1e6} M guest instructions, median of ${runs} runs`);
  console.log(`node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString().slice(0, 10)}`);
  for (const c of configs) {
    // Slow configurations run a tenth of the instructions (the rate is what matters).
    const count = c.opts.decodeCache ? n : Math.max(1_000_000, Math.floor(n / 10));
    const rs = Array.from({ length: runs }, () => runLoop(count, c.opts, c.name, guest));
    const m = median(rs.map((r) => r.mips));
    const mc = median(rs.map((r) => r.cpuMips));
    console.log(`  ${c.name.padEnd(32)} ${m.toFixed(1).padStart(7)} MIPS  ${mc.toFixed(1).padStart(7)} MIPS/CPU-s   (runs: ${rs.map((r) => r.mips.toFixed(1)).join(', ')})`);
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}
