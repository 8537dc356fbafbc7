// JIT compile cost: milliseconds from compileRegion (source generation + `new Function`)
// to the end of the region's first call, for straight-line regions of memory and ALU
// instructions (kernel-style code: every instruction has a memory operand or flags).
// A Linux boot compiles ~1,500 regions, most of them called only a few hundred times,
// so this cost is paid often. Run: node dist/bench/jit-compile.js   (never part of npm test)
import { Cpu } from '../src/cpu/cpu';
import { PhysMemory } from '../src/mmu/physmem';
import { compileRegion } from '../src/cpu/jit';
import type { Block } from '../src/cpu/block';
import { median } from './median';

const CODE = 0x10000, DATA = 0x20000;

/** A page of straight-line code: mov eax,[esi+d] | add ebx,eax | mov [esi+d+4],ebx ... then HLT. */
function codePage(): number[] {
  const out: number[] = [];
  for (let d = 0; out.length < 4000; d = (d + 8) & 0x7f) out.push(0x8b, 0x46, d, 0x01, 0xc3, 0x89, 0x5e, d + 4);
  out.push(0xf4);
  return out;
}

function blocksOfPage(): { cpu: Cpu; blocks: { eip: number; b: Block }[] } {
  const mem = new PhysMemory(1 << 20);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} }, { compile: false });
  mem.ram.set(codePage(), CODE);
  cpu.setupFlat32(CODE);
  cpu.r32[6] = DATA;
  cpu.run(1e6); // builds the blocks (compile off), to the HLT
  const blocks: { eip: number; b: Block }[] = [];
  const priv = cpu as unknown as { fetchInsn(): { block: Block | null } };
  for (let eip = CODE; eip < CODE + 4000;) {
    cpu.eip = eip;
    const b = priv.fetchInsn().block;
    if (b === null) break;
    blocks.push({ eip, b });
    eip += b.len;
  }
  return { cpu, blocks };
}

const ROUNDS = 40;
const perRegion: number[] = [];
let insns = 0, regions = 0;
for (let round = 0; round < ROUNDS; round++) {
  const { cpu, blocks } = blocksOfPage();
  let t = 0;
  for (const { eip, b } of blocks) {
    cpu.eip = eip;
    cpu.halted = false;
    const t0 = performance.now();
    const { fn } = compileRegion([b], { loops: true, ramFast: true });
    fn(cpu, cpu.icount + 1e6);
    t += performance.now() - t0;
    insns += b.insns.length;
    regions++;
  }
  perRegion.push(t / blocks.length);
}
console.log('# JIT compile: compileRegion + first call, straight-line blocks of 64 memory/ALU instructions');
console.log(`regions ${regions}, ${(insns / regions).toFixed(0)} instructions each: ${median(perRegion).toFixed(3)} ms per region (median of ${ROUNDS} rounds; min ${Math.min(...perRegion).toFixed(3)}, max ${Math.max(...perRegion).toFixed(3)})`);
