// MMU benchmark: translation cost and context switches. Prints figures; never part of npm test.
//  1. translate(): direct calls on a page-hopping pattern (256 pages) — TLB hits per
//     second with the TLB on, page walks per second with it off.
//  2. A page-hopping read loop guest (bench/guests/mmu-hop.S): guest MIPS, TLB on / off.
//  3. A context-switch-heavy guest (bench/guests/mmu-switch.S): 4 address spaces cycled by
//     MOV CR3, a working set touched (read + write) in each; tlbKeepAcrossCr3 on / off, and
//     the TLB off as the reference.
// Run: node esbuild.config.mjs && node dist/bench/mmu.js
//   env: BENCH_RUNS (default 3), BENCH_INSNS (guest instructions, default 20M), BENCH_WS (pages per space, default 64)
import { Cpu, type CpuOptions } from '../src/cpu/cpu';
import { Exit } from '../src/cpu/interfaces';
import { PhysMemory } from '../src/mmu/physmem';
import { median } from './median';
import { ACC_WRITE } from '../src/mmu/walker';

const HOP = Uint8Array.from([0xbe, 0x00, 0x00, 0x40, 0x00, 0x8b, 0x06, 0x81, 0xc6, 0x00, 0x10, 0x00, 0x00, 0x81, 0xe6, 0x00, 0xf0, 0x4f, 0x00, 0xeb, 0xf0]);
const SWITCH = Uint8Array.from([
  0x31, 0xff, 0x8b, 0x04, 0xbd, 0x00, 0x90, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0xbe, 0x00, 0x00, 0x40, 0x00, 0x8b, 0x0d, 0x10, 0x90, 0x00, 0x00,
  0x8b, 0x06, 0x83, 0xc0, 0x01, 0x89, 0x06, 0x81, 0xc6, 0x00, 0x10, 0x00, 0x00, 0x49, 0x75, 0xf0, 0x47, 0x83, 0xe7, 0x03, 0xeb, 0xd5,
]);

const SPACES = 4;
const PD = (s: number) => 0x100000 + s * 0x1000;
const KPT = 0x110000; // identity 0-4 MiB, shared by every space
const UPT = (s: number) => 0x120000 + s * 0x1000; // linear 0x400000.. of space s
const FRAMES = (s: number) => 0x400000 + s * 0x100000; // 256 frames per space

/** 16 MiB guest, flat 32-bit, paging on: 4 address spaces sharing the identity map of 0-4 MiB. */
function machine(opts: CpuOptions, code: Uint8Array, workingSet = 256): Cpu {
  const mem = new PhysMemory(16 << 20);
  for (let k = 0; k < 1024; k++) mem.write32(KPT + k * 4, (k << 12) | 3);
  for (let s = 0; s < SPACES; s++) {
    mem.write32(PD(s), KPT | 3);
    mem.write32(PD(s) + 4, UPT(s) | 3);
    for (let k = 0; k < 256; k++) mem.write32(UPT(s) + k * 4, (FRAMES(s) + k * 0x1000) | 3);
    mem.write32(0x9000 + s * 4, PD(s));
  }
  mem.write32(0x9010, workingSet);
  mem.ram.set(code, 0x10000);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, opts);
  cpu.setupFlat32(0x10000);
  cpu.r32[4] = 0x80000;
  cpu.cr0 = (cpu.cr0 | 0x80000000) >>> 0;
  cpu.cr3 = PD(0);
  cpu.flushTlb(true);
  cpu.pagingChanged();
  return cpu;
}

interface Figure { label: string; value: number; unit: string; extra?: string }

function translateLoop(tlb: boolean, calls: number): Figure {
  const cpu = machine({ tlb }, HOP);
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) sink ^= cpu.translate(0x400000 + ((i & 255) << 12) + (i & 0xffc), (i & 7) === 0 ? ACC_WRITE : 0);
  const s = (performance.now() - t0) / 1000;
  if (sink === 0x7fffffff) console.log('');
  const st = cpu.mmuStats().tlb;
  return tlb
    ? { label: 'translate(), TLB on (hits)', value: st.hits / s / 1e6, unit: 'M hits/s', extra: `${st.walks} walks` }
    : { label: 'translate(), TLB off (walks)', value: st.walks / s / 1e6, unit: 'M walks/s' };
}

function runGuest(opts: CpuOptions, code: Uint8Array, insns: number, ws = 256): { s: number; cpu: Cpu } {
  const cpu = machine(opts, code, ws);
  const t0 = performance.now();
  let exit: Exit = Exit.Budget;
  while (cpu.icount < insns && exit === Exit.Budget) exit = cpu.run(Math.min(1_000_000, insns - cpu.icount));
  const s = (performance.now() - t0) / 1000;
  if (exit !== Exit.Budget) throw new Error(`benchmark guest stopped: exit ${exit} ${cpu.guestError}\n${cpu.describe()}`);
  return { s, cpu };
}

function hopGuest(tlb: boolean, insns: number): Figure {
  const { s, cpu } = runGuest({ tlb }, HOP, insns);
  const st = cpu.mmuStats().tlb;
  return { label: `page-hopping guest, TLB ${tlb ? 'on' : 'off'}`, value: cpu.icount / s / 1e6, unit: 'MIPS',
    extra: `${(st.hits / s / 1e6).toFixed(1)} M hits/s, ${(st.walks / s / 1e6).toFixed(2)} M walks/s` };
}

function switchGuest(opts: CpuOptions, insns: number, ws: number): Figure {
  const { s, cpu } = runGuest(opts, SWITCH, insns, ws);
  const st = cpu.mmuStats();
  const label = opts.tlb === false ? 'context switches, TLB off' : `context switches, keepAcrossCr3 ${opts.tlbKeepAcrossCr3 ? 'on ' : 'off'}`;
  return { label, value: cpu.icount / s / 1e6, unit: 'MIPS',
    extra: `${(st.tlb.cr3Switches / s / 1e3).toFixed(0)} K CR3 loads/s, ${(st.tlb.walks / Math.max(1, st.tlb.cr3Switches)).toFixed(1)} walks/switch, rmap steals ${st.rmap.steals}` };
}


function report(runs: number, f: () => Figure): void {
  const rs = Array.from({ length: runs }, f);
  const m = median(rs.map((r) => r.value));
  const mid = rs.find((r) => r.value === m)!;
  console.log(`  ${mid.label.padEnd(38)} ${m.toFixed(2).padStart(8)} ${mid.unit.padEnd(10)} ${mid.extra ?? ''}   (runs: ${rs.map((r) => r.value.toFixed(2)).join(', ')})`);
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const insns = Number(process.env.BENCH_INSNS ?? 20_000_000);
  const ws = Number(process.env.BENCH_WS ?? 64);
  const calls = insns;
  // Warm up the JIT on every path.
  translateLoop(true, 2e6); translateLoop(false, 2e5); hopGuest(true, 1e6); switchGuest({ tlbKeepAcrossCr3: true }, 1e6, ws); switchGuest({ tlbKeepAcrossCr3: false }, 1e6, ws);
  console.log(`ts86 MMU benchmark (node ${process.version}), median of ${runs} runs`);
  console.log(`translation cost (${calls / 1e6} M translate() calls over 256 pages; 1 in 8 a write):`);
  report(runs, () => translateLoop(true, calls));
  report(runs, () => translateLoop(false, calls / 10));
  console.log(`page-hopping read loop guest (${insns / 1e6} M instructions, 256 pages):`);
  report(runs, () => hopGuest(true, insns));
  report(runs, () => hopGuest(false, insns / 4));
  console.log(`context-switch-heavy guest (${insns / 1e6} M instructions, 4 address spaces, ${ws} pages each read+written per switch):`);
  report(runs, () => switchGuest({ tlbKeepAcrossCr3: true }, insns, ws));
  report(runs, () => switchGuest({ tlbKeepAcrossCr3: false }, insns, ws));
  report(runs, () => switchGuest({ tlb: false }, insns / 4, ws));
}
