// Region transitions: a caller page that CALLs, in turn, a RET on each of 64 other pages
// (identity paging on), so every guest instruction leaves one compiled region for another —
// kernel-style code made of small functions. Prints nanoseconds per block run (one CALL or
// one RET each) with every fast path on, and with compiling off (the block interpreter),
// medians of 5 runs after a warm-up long enough for V8 to optimise the regions.
// Run: node dist/bench/call-ret.js   (never part of npm test)
import { Cpu, type CpuOptions } from '../src/cpu/cpu';
import { PhysMemory } from '../src/mmu/physmem';
import { median } from './median';

const PAGES = 64, CALLER = 0x10000, CALLEES = 0x100000, PD = 0x3f0000, PT = 0x3f1000;

function machine(opts: CpuOptions): Cpu {
  const mem = new PhysMemory(4 << 20);
  const code: number[] = [0xbc, 0x00, 0x00, 0x30, 0x00]; // mov esp, 0x300000
  const loop = code.length;
  for (let k = 0; k < PAGES; k++) {
    const rel = (CALLEES + k * 0x1000 - (CALLER + code.length + 5)) | 0;
    code.push(0xe8, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff); // call page k
  }
  const back = loop - (code.length + 5);
  code.push(0xe9, back & 0xff, (back >> 8) & 0xff, (back >> 16) & 0xff, (back >>> 24) & 0xff); // jmp loop
  mem.ram.set(code, CALLER);
  for (let k = 0; k < PAGES; k++) mem.ram[CALLEES + k * 0x1000] = 0xc3; // ret
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, opts);
  cpu.setupFlat32(CALLER);
  mem.view.setUint32(PD, PT | 0x27, true);
  for (let p = 0; p < 1024; p++) mem.view.setUint32(PT + 4 * p, (p << 12) | 0x67, true);
  cpu.loadCr3(PD);
  cpu.cr0 |= 0x80000000;
  cpu.pagingChanged();
  cpu.flushTlb(true);
  return cpu;
}

function nsPerBlock(opts: CpuOptions, warm: number, n: number): number {
  const cpu = machine(opts);
  cpu.run(warm);
  const t0 = performance.now(), b0 = cpu.statBlockRuns, i0 = cpu.icount;
  while (cpu.icount - i0 < n) if (cpu.run(100_000) !== 0) throw new Error(`stopped: ${cpu.guestError}`);
  return (performance.now() - t0) * 1e6 / (cpu.statBlockRuns - b0);
}

console.log(`# region transitions: CALL to a RET on each of ${PAGES} pages, paging on (ns per block run, median of 5)`);
for (const [name, opts] of [['all fast paths on', {}], ['compile off (block interpreter)', { compile: false }]] as const) {
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) runs.push(nsPerBlock(opts, 2e7, 2e7));
  console.log(`${name.padEnd(32)} ${median(runs).toFixed(1)} ns  (runs ${runs.map((x) => x.toFixed(1)).join(' / ')})`);
}
