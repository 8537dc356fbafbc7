// State dumps for SIGQUIT and guest errors: registers, the code around EIP with the
// faulting instruction marked, the top of the stack, and the page walk of EIP.
// Uses side-effect-free reads only (a dump never changes guest state).
import type { Cpu } from '../cpu/cpu';
import { CS, SS } from '../cpu/consts';
import { describeWalk, formatMappedRanges, mappedRanges } from '../mmu/dump';
import { disassembleOne } from '../debug/disasm';

function hex(v: number, n = 8): string { return (v >>> 0).toString(16).padStart(n, '0'); }

/** Reads guest bytes at a linear address without faults or side effects (null where unmapped). */
export function peekLinear(cpu: Cpu, lin: number, len: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let k = 0; k < len; k++) {
    const phys = cpu.peekTranslate((lin + k) >>> 0);
    out.push(phys === null || !cpu.mem.isRam(phys) ? null : cpu.mem.ram[phys]);
  }
  return out;
}

export function describeState(cpu: Cpu): string {
  const lines: string[] = [];
  lines.push(cpu.describe());
  const eipLin = (cpu.segBase[CS] + cpu.eip) >>> 0;
  const before = 16, after = 16;
  const bytes = peekLinear(cpu, (eipLin - before) >>> 0, before + after);
  const code = bytes.map((b, k) => (k === before ? '[' : '') + (b === null ? '??' : hex(b, 2)) + (k === before ? ']' : '')).join(' ');
  lines.push(`code at ${hex(cpu.segSel[CS], 4)}:${hex(cpu.eip)} (linear ${hex(eipLin)}), faulting byte in brackets:`);
  lines.push(`  ${code}`);
  const insnBytes = peekLinear(cpu, eipLin, 15);
  const firstNull = insnBytes.indexOf(null);
  const avail = Uint8Array.from(insnBytes.slice(0, firstNull < 0 ? 15 : firstNull) as number[]);
  if (avail.length) {
    const d = disassembleOne(avail, 0, cpu.eip, cpu.code32 ? 32 : 16);
    lines.push(`  => ${hex(cpu.eip)}: ${d.text.replace(/\s+/, ' ')}`);
  }
  const sp = (cpu.segBase[SS] + (cpu.stack32 ? cpu.r32[4] >>> 0 : cpu.r16[8])) >>> 0;
  const st = peekLinear(cpu, sp, 32);
  const words: string[] = [];
  for (let k = 0; k < 32; k += 4) {
    const b = st.slice(k, k + 4);
    words.push(b.some((x) => x === null) ? '????????' : hex((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0));
  }
  lines.push(`stack at ${hex(sp)}: ${words.join(' ')}`);
  if (cpu.paging) {
    lines.push(`page walk of EIP:`);
    for (const l of describeWalk(cpu.mem, cpu.cr3, cpu.cr4, cpu.efer, eipLin)) lines.push(`  ${l}`);
  }
  return lines.join('\n');
}

/** The walk of one linear address and the summary of mapped ranges (ts86 run --dump-pagetables). */
export function describePageTables(cpu: Cpu, lins: number[], maxRanges = 64): string {
  if (!cpu.paging) return 'paging is off (CR0.PG=0): linear addresses are physical';
  const lines: string[] = [];
  for (const lin of lins) for (const l of describeWalk(cpu.mem, cpu.cr3, cpu.cr4, cpu.efer, lin)) lines.push(l);
  const ranges = formatMappedRanges(mappedRanges(cpu.mem, cpu.cr3, cpu.cr4, cpu.efer));
  lines.push(`mapped ranges (CR3=${hex(cpu.cr3)}):`);
  for (const r of ranges.slice(0, maxRanges)) lines.push(`  ${r}`);
  if (ranges.length > maxRanges) lines.push(`  ... ${ranges.length - maxRanges} more ranges`);
  return lines.join('\n');
}
