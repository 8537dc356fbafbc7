// Page-table dumps for people (the `ts86 run` CLI, the stepper, test failures): the walk
// of one linear address level by level, and the mapped linear ranges of an address
// space. Pure: reads RAM directly (never MMIO, never A/D updates), so dumping cannot
// change what the guest sees. Follows the same rules as walker.ts (SDM Vol.3A §4.3
// 32-bit paging, §4.4 PAE paging, Table 4-5 ff. for the entry formats); paging is
// assumed enabled (CR0.PG=1).
import type { PhysMemory } from './physmem';

const P = 1, RW = 2, US = 4, PWT = 8, PCD = 0x10, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const CR4_PSE = 1 << 4, CR4_PAE = 1 << 5;
const EFER_NXE = 1 << 11;

const hex = (v: number, n = 8): string => '0x' + (v >>> 0).toString(16).padStart(n, '0');

/** A 32-bit read of RAM without side effects, or null when the address is not plain RAM. */
function peek32(mem: PhysMemory, addr: number): number | null {
  if (addr < 0 || addr + 4 > mem.ramSize || !mem.isRam(addr)) return null;
  return mem.view.getUint32(addr, true);
}

function flagNames(lo: number, hi: number, pae: boolean, leafOrDir: 'pdpte' | 'dir' | 'leaf', nxe: boolean): string {
  const f: string[] = [];
  if (lo & P) f.push('P');
  if (leafOrDir !== 'pdpte') {
    f.push(lo & RW ? 'RW' : 'RO');
    f.push(lo & US ? 'US' : 'S');
  }
  if (lo & PWT) f.push('PWT');
  if (lo & PCD) f.push('PCD');
  if (leafOrDir !== 'pdpte' && lo & A) f.push('A');
  if (leafOrDir === 'leaf' && lo & D) f.push('D');
  if (leafOrDir === 'leaf' && lo & PS) f.push('PS');
  if (leafOrDir === 'leaf' && lo & G) f.push('G');
  if (pae && hi & 0x80000000 && nxe) f.push('XD');
  return f.join(' ');
}

/** Error code a supervisor read would get (SDM Vol.3A §4.7); writes add W (2), user accesses U (4). */
function faultText(present: boolean, rsvd: boolean, why: string): string {
  const err = (present ? 1 : 0) | (rsvd ? 8 : 0);
  return `=> #PF: ${why} (error code ${hex(err, 1)} for a supervisor read; +0x2 for a write, +0x4 from CPL 3)`;
}

/**
 * The walk of `lin` under (cr3, cr4, efer), one line per paging-structure level: entry
 * address, raw value, decoded flags, then the physical address or the fault it would
 * raise. Permission faults depend on the access, so the last line names the rights
 * instead.
 */
export function describeWalk(mem: PhysMemory, cr3: number, cr4: number, efer: number, lin: number): string[] {
  lin >>>= 0;
  const out: string[] = [];
  const pae = (cr4 & CR4_PAE) !== 0;
  const nxe = pae && (efer & EFER_NXE) !== 0;
  const rights = (w: boolean, u: boolean, x: boolean) => `${w ? 'writable' : 'read-only'}, ${u ? 'user' : 'supervisor-only'}${pae ? (x ? ', executable' : ', no-execute') : ''}`;
  if (!pae) {
    const pdi = lin >>> 22, pti = (lin >>> 12) & 0x3ff;
    out.push(`linear ${hex(lin)}: 32-bit paging, CR3=${hex(cr3)}, PDE ${pdi}, PTE ${pti}, offset ${hex(lin & 0xfff, 3)}`);
    const pdeA = ((cr3 & 0xfffff000) + pdi * 4) >>> 0;
    const pde = peek32(mem, pdeA);
    if (pde === null) { out.push(`  PDE   @${hex(pdeA)} is not in RAM: cannot walk without side effects`); return out; }
    if (!(pde & P)) { out.push(`  PDE   @${hex(pdeA)} = ${hex(pde)}  not present`); out.push(faultText(false, false, 'PDE not present')); return out; }
    if (cr4 & CR4_PSE && pde & PS) {
      out.push(`  PDE   @${hex(pdeA)} = ${hex(pde)}  ${flagNames(pde, 0, false, 'leaf', false)}  -> 4 MiB page ${hex(pde & 0xffc00000)}`);
      if (pde & 0x003fe000) { out.push(faultText(true, true, `reserved bits ${hex(pde & 0x003fe000)} set in a 4 MiB PDE`)); return out; }
      out.push(`=> physical ${hex((pde & 0xffc00000) + (lin & 0x3fffff))} (4 MiB page, ${rights((pde & RW) !== 0, (pde & US) !== 0, true)})`);
      return out;
    }
    out.push(`  PDE   @${hex(pdeA)} = ${hex(pde)}  ${flagNames(pde, 0, false, 'dir', false)}  -> page table ${hex(pde & 0xfffff000)}`);
    const pteA = ((pde & 0xfffff000) + pti * 4) >>> 0;
    const pte = peek32(mem, pteA);
    if (pte === null) { out.push(`  PTE   @${hex(pteA)} is not in RAM: cannot walk without side effects`); return out; }
    if (!(pte & P)) { out.push(`  PTE   @${hex(pteA)} = ${hex(pte)}  not present`); out.push(faultText(false, false, 'PTE not present')); return out; }
    out.push(`  PTE   @${hex(pteA)} = ${hex(pte)}  ${flagNames(pte, 0, false, 'leaf', false)}  -> frame ${hex(pte & 0xfffff000)}`);
    out.push(`=> physical ${hex((pte & 0xfffff000) + (lin & 0xfff))} (4 KiB page, ${rights((pde & pte & RW) !== 0, (pde & pte & US) !== 0, true)})`);
    return out;
  }
  const pdpi = lin >>> 30, pdi = (lin >>> 21) & 0x1ff, pti = (lin >>> 12) & 0x1ff;
  out.push(`linear ${hex(lin)}: PAE paging${nxe ? ' (NXE)' : ''}, CR3=${hex(cr3)}, PDPTE ${pdpi}, PDE ${pdi}, PTE ${pti}, offset ${hex(lin & 0xfff, 3)}`);
  const e64 = (a: number): [number, number] | null => {
    const lo = peek32(mem, a), hi = peek32(mem, a + 4);
    return lo === null || hi === null ? null : [lo, hi];
  };
  const raw = (lo: number, hi: number) => `${hex(hi)}_${(lo >>> 0).toString(16).padStart(8, '0')}`;
  const rsvdHi = nxe ? 0x7fffffff : 0xffffffff;
  const pdpteA = ((cr3 & 0xffffffe0) + pdpi * 8) >>> 0;
  const pdpte = e64(pdpteA);
  if (!pdpte) { out.push(`  PDPTE @${hex(pdpteA)} is not in RAM: cannot walk without side effects`); return out; }
  if (!(pdpte[0] & P)) { out.push(`  PDPTE @${hex(pdpteA)} = ${raw(...pdpte)}  not present`); out.push(faultText(false, false, 'PDPTE not present')); return out; }
  out.push(`  PDPTE @${hex(pdpteA)} = ${raw(...pdpte)}  ${flagNames(pdpte[0], pdpte[1], true, 'pdpte', nxe)}  -> page directory ${hex(pdpte[0] & 0xfffff000)}`);
  if (pdpte[0] & 0x1e6 || pdpte[1]) { out.push(faultText(true, true, 'reserved bits set in the PDPTE')); return out; }
  const pdeA = ((pdpte[0] & 0xfffff000) + pdi * 8) >>> 0;
  const pde = e64(pdeA);
  if (!pde) { out.push(`  PDE   @${hex(pdeA)} is not in RAM: cannot walk without side effects`); return out; }
  if (!(pde[0] & P)) { out.push(`  PDE   @${hex(pdeA)} = ${raw(...pde)}  not present`); out.push(faultText(false, false, 'PDE not present')); return out; }
  const pdeXd = nxe && (pde[1] & 0x80000000) !== 0;
  if (pde[0] & PS) {
    out.push(`  PDE   @${hex(pdeA)} = ${raw(...pde)}  ${flagNames(pde[0], pde[1], true, 'leaf', nxe)}  -> 2 MiB page ${hex(pde[0] & 0xffe00000)}`);
    if (pde[1] & rsvdHi || pde[0] & 0x001fe000) { out.push(faultText(true, true, 'reserved bits set in a 2 MiB PDE')); return out; }
    out.push(`=> physical ${hex((pde[0] & 0xffe00000) + (lin & 0x1fffff))} (2 MiB page, ${rights((pde[0] & RW) !== 0, (pde[0] & US) !== 0, !pdeXd)})`);
    return out;
  }
  out.push(`  PDE   @${hex(pdeA)} = ${raw(...pde)}  ${flagNames(pde[0], pde[1], true, 'dir', nxe)}  -> page table ${hex(pde[0] & 0xfffff000)}`);
  if (pde[1] & rsvdHi) { out.push(faultText(true, true, 'reserved bits set in the PDE')); return out; }
  const pteA = ((pde[0] & 0xfffff000) + pti * 8) >>> 0;
  const pte = e64(pteA);
  if (!pte) { out.push(`  PTE   @${hex(pteA)} is not in RAM: cannot walk without side effects`); return out; }
  if (!(pte[0] & P)) { out.push(`  PTE   @${hex(pteA)} = ${raw(...pte)}  not present`); out.push(faultText(false, false, 'PTE not present')); return out; }
  out.push(`  PTE   @${hex(pteA)} = ${raw(...pte)}  ${flagNames(pte[0], pte[1], true, 'leaf', nxe)}  -> frame ${hex(pte[0] & 0xfffff000)}`);
  if (pte[1] & rsvdHi) { out.push(faultText(true, true, 'reserved bits set in the PTE')); return out; }
  const xd = pdeXd || (nxe && (pte[1] & 0x80000000) !== 0);
  out.push(`=> physical ${hex((pte[0] & 0xfffff000) + (lin & 0xfff))} (4 KiB page, ${rights((pde[0] & pte[0] & RW) !== 0, (pde[0] & pte[0] & US) !== 0, !xd)})`);
  return out;
}

/** One run of linear pages mapped to contiguous physical memory with the same rights. */
export interface MappedRange {
  lin: number;
  /** Bytes. */
  size: number;
  phys: number;
  writable: boolean;
  user: boolean;
  executable: boolean;
  global: boolean;
}

/**
 * The mapped linear ranges of the address space (cr3, cr4, efer), in linear order, with
 * adjacent pages coalesced when they are contiguous in physical memory and have the same
 * effective rights (R/W and U/S combined over the levels, XD) and global bit. Entries
 * that would fault (not present, reserved bits set, structures outside RAM) are left out.
 */
export function mappedRanges(mem: PhysMemory, cr3: number, cr4: number, efer: number): MappedRange[] {
  const out: MappedRange[] = [];
  const emit = (lin: number, size: number, phys: number, writable: boolean, user: boolean, executable: boolean, global: boolean): void => {
    const last = out[out.length - 1];
    if (last && last.lin + last.size === lin && last.phys + last.size === phys && last.writable === writable &&
        last.user === user && last.executable === executable && last.global === global) {
      last.size += size;
      return;
    }
    out.push({ lin, size, phys, writable, user, executable, global });
  };
  const pae = (cr4 & CR4_PAE) !== 0;
  if (!pae) {
    for (let pdi = 0; pdi < 1024; pdi++) {
      const pde = peek32(mem, ((cr3 & 0xfffff000) + pdi * 4) >>> 0);
      if (pde === null || !(pde & P)) continue;
      const base = pdi * 0x400000;
      if (cr4 & CR4_PSE && pde & PS) {
        if (pde & 0x003fe000) continue;
        emit(base, 0x400000, (pde & 0xffc00000) >>> 0, (pde & RW) !== 0, (pde & US) !== 0, true, (pde & G) !== 0);
        continue;
      }
      for (let pti = 0; pti < 1024; pti++) {
        const pte = peek32(mem, ((pde & 0xfffff000) + pti * 4) >>> 0);
        if (pte === null || !(pte & P)) continue;
        emit(base + pti * 0x1000, 0x1000, (pte & 0xfffff000) >>> 0, (pde & pte & RW) !== 0, (pde & pte & US) !== 0, true, (pte & G) !== 0);
      }
    }
    return out;
  }
  const nxe = (efer & EFER_NXE) !== 0;
  const rsvdHi = nxe ? 0x7fffffff : 0xffffffff;
  for (let pdpi = 0; pdpi < 4; pdpi++) {
    const a = ((cr3 & 0xffffffe0) + pdpi * 8) >>> 0;
    const lo = peek32(mem, a), hi = peek32(mem, a + 4);
    if (lo === null || hi === null || !(lo & P) || lo & 0x1e6 || hi) continue;
    for (let pdi = 0; pdi < 512; pdi++) {
      const pa = ((lo & 0xfffff000) + pdi * 8) >>> 0;
      const pde = peek32(mem, pa), pdeHi = peek32(mem, pa + 4);
      if (pde === null || pdeHi === null || !(pde & P) || pdeHi & rsvdHi) continue;
      const pdeXd = nxe && (pdeHi & 0x80000000) !== 0;
      const base = pdpi * 0x40000000 + pdi * 0x200000;
      if (pde & PS) {
        if (pde & 0x001fe000) continue;
        emit(base, 0x200000, (pde & 0xffe00000) >>> 0, (pde & RW) !== 0, (pde & US) !== 0, !pdeXd, (pde & G) !== 0);
        continue;
      }
      for (let pti = 0; pti < 512; pti++) {
        const ta = ((pde & 0xfffff000) + pti * 8) >>> 0;
        const pte = peek32(mem, ta), pteHi = peek32(mem, ta + 4);
        if (pte === null || pteHi === null || !(pte & P) || pteHi & rsvdHi) continue;
        const xd = pdeXd || (nxe && (pteHi & 0x80000000) !== 0);
        emit(base + pti * 0x1000, 0x1000, (pte & 0xfffff000) >>> 0, (pde & pte & RW) !== 0, (pde & pte & US) !== 0, !xd, (pte & G) !== 0);
      }
    }
  }
  return out;
}

/** One line per range: "0x00400000-0x00401fff -> 0x00300000  rw- user global" style. */
export function formatMappedRanges(ranges: readonly MappedRange[]): string[] {
  return ranges.map((r) =>
    `${hex(r.lin)}-${hex(r.lin + r.size - 1)} -> ${hex(r.phys)}  ${r.writable ? 'rw' : 'r-'}${r.executable ? 'x' : '-'} ${r.user ? 'user' : 'supervisor'}${r.global ? ' global' : ''}  (${r.size >= 0x100000 ? `${r.size / 0x100000} MiB` : `${r.size / 1024} KiB`})`);
}
