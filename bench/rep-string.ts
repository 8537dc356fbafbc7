// REP string throughput: a guest loop of REP STOSD (4 KiB fill) then REP MOVSD (4 KiB copy),
// with the repFast fast path on and off. Prints figures; never part of `npm test`.
// Run: npm run build && node dist/bench/rep-string.js
import { Cpu } from '../src/cpu/cpu';
import { PhysMemory } from '../src/mmu/physmem';
import { median } from './median';

// L: mov edi, 0x20000 | mov ecx, 1024 | rep stosd | mov esi, 0x20000 | mov edi, 0x30000 | mov ecx, 1024 | rep movsd | jmp L
const CODE = [0xbf, 0, 0, 2, 0, 0xb9, 0, 4, 0, 0, 0xf3, 0xab, 0xbe, 0, 0, 2, 0, 0xbf, 0, 0, 3, 0, 0xb9, 0, 4, 0, 0, 0xf3, 0xa5, 0xeb, 0];
CODE[CODE.length - 1] = (-CODE.length) & 0xff;
const INSNS_PER_LOOP = 8, BYTES_PER_LOOP = 8192;

function run(repFast: boolean): number {
  const mem = new PhysMemory(1 << 20);
  mem.ram.set(CODE, 0x10000);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, { repFast });
  cpu.setupFlat32(0x10000);
  cpu.run(80_000); // warm up
  const i0 = cpu.icount, t0 = performance.now();
  cpu.run(repFast ? 4_000_000 : 80_000);
  const s = (performance.now() - t0) / 1000;
  return ((cpu.icount - i0) / INSNS_PER_LOOP) * BYTES_PER_LOOP / s / 1e9;
}

console.log(`REP STOSD + REP MOVSD, 4 KiB each per loop (node ${process.version}), median of 3 runs`);
for (const on of [true, false]) {
  const runs = [run(on), run(on), run(on)];
  const med = median(runs);
  console.log(`  repFast ${on ? 'on ' : 'off'}  ${med.toFixed(2).padStart(7)} GB/s   (runs: ${runs.map((r) => r.toFixed(2)).join(', ')})`);
}
