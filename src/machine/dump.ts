// State dumps for SIGQUIT and guest errors: registers, the code around EIP with the
// faulting instruction marked, the top of the stack, and the page walk of EIP.
// Uses side-effect-free reads only (a dump never changes guest state).
import type { Cpu } from '../cpu/cpu';
import { CS, SS } from '../cpu/consts';

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
  const sp = (cpu.segBase[SS] + (cpu.stack32 ? cpu.r32[4] >>> 0 : cpu.r16[8])) >>> 0;
  const st = peekLinear(cpu, sp, 32);
  const words: string[] = [];
  for (let k = 0; k < 32; k += 4) {
    const b = st.slice(k, k + 4);
    words.push(b.some((x) => x === null) ? '????????' : hex((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0));
  }
  lines.push(`stack at ${hex(sp)}: ${words.join(' ')}`);
  if (cpu.paging) {
    const p = cpu.peekTranslate(eipLin);
    lines.push(`page walk of EIP ${hex(eipLin)}: ${p === null ? 'not mapped' : `-> physical ${hex(p)}`} (CR3=${hex(cpu.cr3)})`);
  }
  return lines.join('\n');
}
