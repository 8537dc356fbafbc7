import type { PhysMemory } from './physmem';

// Access kinds for a translation.
export const ACC_WRITE = 1, ACC_USER = 2, ACC_FETCH = 4;

// #PF error-code bits (SDM Vol.3A §4.7, Figure 4-12).
export const PFE_P = 1, PFE_W = 2, PFE_U = 4, PFE_RSVD = 8, PFE_ID = 16;

const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80;

export interface WalkResult {
  phys: number;
  ok: boolean;
  /** #PF error code when !ok. */
  err: number;
  /** Combined permissions of the walk (for the TLB): bit0 writable, bit1 user, bit2 executable. */
  perms?: number;
  /** Large page (4 MiB / 2 MiB). */
  large?: boolean;
  global?: boolean;
  /** The final entry's dirty bit after the walk. */
  dirty?: boolean;
  /** Physical addresses and sizes of the paging-structure entries the translation derives from. */
  deps?: Float64Array;
  depSizes?: Uint8Array;
  ndeps?: number;
}

/** A WalkResult with dependency storage (allocate once, reuse). */
export function newWalkResult(): WalkResult {
  return { phys: 0, ok: true, err: 0, perms: 0, large: false, global: false, dirty: false, deps: new Float64Array(3), depSizes: new Uint8Array(3), ndeps: 0 };
}

function dep(out: WalkResult, addr: number, size: number): void {
  if (out.deps) { out.deps[out.ndeps!] = addr; out.depSizes![out.ndeps!] = size; out.ndeps!++; }
}

function fail(out: WalkResult, acc: number, present: boolean, rsvd: boolean, idBit: boolean): void {
  out.ok = false;
  out.err = (present ? PFE_P : 0) | (acc & ACC_WRITE ? PFE_W : 0) | (acc & ACC_USER ? PFE_U : 0) | (rsvd ? PFE_RSVD : 0) | (idBit && acc & ACC_FETCH ? PFE_ID : 0);
}

/** Permission check on the combined U/S and R/W bits (SDM Vol.3A §4.6). */
function allowed(acc: number, rw: boolean, us: boolean, wp: boolean): boolean {
  if (acc & ACC_USER) {
    if (!us) return false;
    if (acc & ACC_WRITE && !rw) return false;
  } else if (acc & ACC_WRITE && !rw && wp) return false;
  return true;
}

/**
 * 32-bit two-level paging with optional 4 MiB pages (SDM Vol.3A §4.3). Sets A and D
 * bits in guest memory only when the access is allowed, PDE before PTE, as the
 * processor does.
 */
export function walk32(mem: PhysMemory, cr3: number, lin: number, acc: number, wp: boolean, pse: boolean, out: WalkResult): void {
  out.ndeps = 0;
  const pdeAddr = ((cr3 & 0xfffff000) | ((lin >>> 22) << 2)) >>> 0;
  const pde = mem.read32(pdeAddr);
  if (!(pde & PTE_P)) return fail(out, acc, false, false, false);
  if (pse && pde & PTE_PS) {
    // Bits 13-20 of a 4 MiB PDE must be zero without PSE-36 (we report no PSE-36).
    if (pde & 0x003fe000) return fail(out, acc, true, true, false);
    if (!allowed(acc, (pde & PTE_RW) !== 0, (pde & PTE_US) !== 0, wp)) return fail(out, acc, true, false, false);
    const nv = pde | PTE_A | (acc & ACC_WRITE ? PTE_D : 0);
    if (nv !== pde) mem.write32(pdeAddr, nv);
    out.ok = true;
    out.phys = ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
    out.perms = (pde & PTE_RW ? 1 : 0) | (pde & PTE_US ? 2 : 0) | 4;
    out.large = true;
    out.global = (pde & 0x100) !== 0;
    out.dirty = (nv & PTE_D) !== 0;
    dep(out, pdeAddr, 4);
    return;
  }
  const pteAddr = ((pde & 0xfffff000) | (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
  const pte = mem.read32(pteAddr);
  if (!(pte & PTE_P)) return fail(out, acc, false, false, false);
  const rw = (pde & pte & PTE_RW) !== 0, us = (pde & pte & PTE_US) !== 0;
  if (!allowed(acc, rw, us, wp)) return fail(out, acc, true, false, false);
  if (!(pde & PTE_A)) mem.write32(pdeAddr, pde | PTE_A);
  const nv = pte | PTE_A | (acc & ACC_WRITE ? PTE_D : 0);
  if (nv !== pte) mem.write32(pteAddr, nv);
  out.ok = true;
  out.phys = ((pte & 0xfffff000) | (lin & 0xfff)) >>> 0;
  out.perms = (rw ? 1 : 0) | (us ? 2 : 0) | 4;
  out.large = false;
  out.global = (pte & 0x100) !== 0;
  out.dirty = (nv & PTE_D) !== 0;
  dep(out, pdeAddr, 4);
  dep(out, pteAddr, 4);
}

/**
 * PAE paging (SDM Vol.3A §4.4): PDPTE, PDE (2 MiB pages), PTE, with the XD bit when
 * EFER.NXE=1. Physical addresses above 4 GiB are not supported (bits 32+ must be zero,
 * else the entry counts as reserved), i.e. MAXPHYADDR = 32. Note: CPUID must say so
 * (leaf 80000008H EAX[7:0] = 32); without that leaf the SDM (§4.1.4) implies
 * MAXPHYADDR = 36 for a PAE processor, which would make bits 35:32 address bits.
 * Deviation, on purpose: the four PDPTEs are re-read on every walk instead of being
 * loaded into registers by MOV CR3 (§4.4.1), so a reserved PDPTE bit raises #PF(RSVD)
 * at the access rather than #GP at MOV CR3, and a PDPTE edit takes effect without a
 * CR3 reload (the rmap drops translations derived from it either way).
 */
export function walkPae(mem: PhysMemory, cr3: number, lin: number, acc: number, wp: boolean, nxe: boolean, out: WalkResult): void {
  out.ndeps = 0;
  const pdpteAddr = ((cr3 & 0xffffffe0) + ((lin >>> 30) << 3)) >>> 0;
  const pdpteLo = mem.read32(pdpteAddr), pdpteHi = mem.read32(pdpteAddr + 4);
  if (!(pdpteLo & PTE_P)) return fail(out, acc, false, false, nxe);
  if (pdpteLo & 0x1e6 || pdpteHi) return fail(out, acc, true, true, nxe);
  const pdeAddr = ((pdpteLo & 0xfffff000) + (((lin >>> 21) & 0x1ff) << 3)) >>> 0;
  const pde = mem.read32(pdeAddr), pdeHi = mem.read32(pdeAddr + 4);
  if (!(pde & PTE_P)) return fail(out, acc, false, false, nxe);
  const xdRsvdMask = nxe ? 0x7fffffff : 0xffffffff;
  if (pdeHi & xdRsvdMask) return fail(out, acc, true, true, nxe);
  const pdeXd = nxe && (pdeHi & 0x80000000) !== 0;
  if (pde & PTE_PS) {
    if (pde & 0x001fe000) return fail(out, acc, true, true, nxe);
    if (!allowed(acc, (pde & PTE_RW) !== 0, (pde & PTE_US) !== 0, wp) || (pdeXd && acc & ACC_FETCH)) return fail(out, acc, true, false, nxe);
    const nv = pde | PTE_A | (acc & ACC_WRITE ? PTE_D : 0);
    if (nv !== pde) mem.write32(pdeAddr, nv);
    out.ok = true;
    out.phys = ((pde & 0xffe00000) | (lin & 0x1fffff)) >>> 0;
    out.perms = (pde & PTE_RW ? 1 : 0) | (pde & PTE_US ? 2 : 0) | (pdeXd ? 0 : 4);
    out.large = true;
    out.global = (pde & 0x100) !== 0;
    out.dirty = (nv & PTE_D) !== 0;
    dep(out, pdpteAddr, 8);
    dep(out, pdeAddr, 8);
    return;
  }
  const pteAddr = ((pde & 0xfffff000) + (((lin >>> 12) & 0x1ff) << 3)) >>> 0;
  const pte = mem.read32(pteAddr), pteHi = mem.read32(pteAddr + 4);
  if (!(pte & PTE_P)) return fail(out, acc, false, false, nxe);
  if (pteHi & xdRsvdMask) return fail(out, acc, true, true, nxe);
  const xd = pdeXd || (nxe && (pteHi & 0x80000000) !== 0);
  const rw = (pde & pte & PTE_RW) !== 0, us = (pde & pte & PTE_US) !== 0;
  if (!allowed(acc, rw, us, wp) || (xd && acc & ACC_FETCH)) return fail(out, acc, true, false, nxe);
  if (!(pde & PTE_A)) mem.write32(pdeAddr, pde | PTE_A);
  const nv = pte | PTE_A | (acc & ACC_WRITE ? PTE_D : 0);
  if (nv !== pte) mem.write32(pteAddr, nv);
  out.ok = true;
  out.phys = ((pte & 0xfffff000) | (lin & 0xfff)) >>> 0;
  out.perms = (rw ? 1 : 0) | (us ? 2 : 0) | (xd ? 0 : 4);
  out.large = false;
  out.global = (pte & 0x100) !== 0;
  out.dirty = (nv & PTE_D) !== 0;
  dep(out, pdpteAddr, 8);
  dep(out, pdeAddr, 8);
  dep(out, pteAddr, 8);
}
