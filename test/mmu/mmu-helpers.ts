// Shared helpers for the MMU tests: a pure reference walker written straight from the
// SDM (Vol.3A §4.3 32-bit paging, §4.4 PAE paging, §4.6 access rights, §4.7 #PF error
// code), page-table builders, and a CPU with paging switched on.
import { Cpu, FAULT, type CpuOptions } from '../../src/cpu/cpu';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, PF_ } from '../../src/cpu/consts';
import { PhysMemory } from '../../src/mmu/physmem';

export const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
export const ACC_WRITE = 1, ACC_USER = 2, ACC_FETCH = 4;
export const NXE = 0x800;

export interface RefResult {
  ok: boolean;
  err: number;
  phys: number;
  writable: boolean;
  user: boolean;
  exec: boolean;
  dirty: boolean;
  global: boolean;
}

/** A little-endian 32-bit read straight from RAM (no MMIO, no side effects). */
function rd(mem: PhysMemory, a: number): number {
  if (a + 4 > mem.ramSize) return 0xffffffff;
  return mem.view.getUint32(a, true);
}

/**
 * The translation of `lin` for access `acc` as the SDM describes it, with no side
 * effects. `err` is the #PF error code when !ok.
 */
export function refWalk(mem: PhysMemory, cr0: number, cr3: number, cr4: number, efer: number, lin: number, acc: number): RefResult {
  lin >>>= 0;
  const wp = (cr0 & CR0_WP) !== 0;
  const pae = (cr4 & CR4_PAE) !== 0;
  const nxe = pae && (efer & NXE) !== 0;
  const res: RefResult = { ok: false, err: 0, phys: 0, writable: false, user: false, exec: false, dirty: false, global: false };
  const fault = (present: boolean, rsvd: boolean): RefResult => {
    res.err = (present ? 1 : 0) | (acc & ACC_WRITE ? 2 : 0) | (acc & ACC_USER ? 4 : 0) | (rsvd ? 8 : 0) | (nxe && acc & ACC_FETCH ? 16 : 0);
    return res;
  };
  const rights = (rw: boolean, us: boolean, xd: boolean, dirty: boolean, global: boolean, phys: number): RefResult => {
    // §4.6: user accesses need U/S=1 everywhere, user writes R/W=1; supervisor writes
    // need R/W=1 only with CR0.WP=1. Fetches from XD pages fault when NXE=1.
    let okay = true;
    if (acc & ACC_USER) { if (!us || (acc & ACC_WRITE && !rw)) okay = false; }
    else if (acc & ACC_WRITE && !rw && wp) okay = false;
    if (acc & ACC_FETCH && xd) okay = false;
    if (!okay) return fault(true, false);
    Object.assign(res, { ok: true, err: 0, phys: phys >>> 0, writable: rw, user: us, exec: !xd, dirty, global });
    return res;
  };
  if (!pae) {
    const pde = rd(mem, ((cr3 & 0xfffff000) + (lin >>> 22) * 4) >>> 0);
    if (!(pde & P)) return fault(false, false);
    if (cr4 & CR4_PSE && pde & PS) {
      if (pde & 0x003fe000) return fault(true, true);
      return rights((pde & RW) !== 0, (pde & US) !== 0, false, (pde & D) !== 0, (pde & G) !== 0, (pde & 0xffc00000) + (lin & 0x3fffff));
    }
    const pte = rd(mem, ((pde & 0xfffff000) + ((lin >>> 12) & 0x3ff) * 4) >>> 0);
    if (!(pte & P)) return fault(false, false);
    return rights((pde & pte & RW) !== 0, (pde & pte & US) !== 0, false, (pte & D) !== 0, (pte & G) !== 0, (pte & 0xfffff000) + (lin & 0xfff));
  }
  const rsvdHi = nxe ? 0x7fffffff : 0xffffffff;
  const pdpteA = ((cr3 & 0xffffffe0) + (lin >>> 30) * 8) >>> 0;
  const pdpte = rd(mem, pdpteA), pdpteHi = rd(mem, pdpteA + 4);
  if (!(pdpte & P)) return fault(false, false);
  if (pdpte & 0x1e6 || pdpteHi) return fault(true, true);
  const pdeA = ((pdpte & 0xfffff000) + ((lin >>> 21) & 0x1ff) * 8) >>> 0;
  const pde = rd(mem, pdeA), pdeHi = rd(mem, pdeA + 4);
  if (!(pde & P)) return fault(false, false);
  if (pdeHi & rsvdHi) return fault(true, true);
  const pdeXd = nxe && (pdeHi & 0x80000000) !== 0;
  if (pde & PS) {
    if (pde & 0x001fe000) return fault(true, true);
    return rights((pde & RW) !== 0, (pde & US) !== 0, pdeXd, (pde & D) !== 0, (pde & G) !== 0, (pde & 0xffe00000) + (lin & 0x1fffff));
  }
  const pteA = ((pde & 0xfffff000) + ((lin >>> 12) & 0x1ff) * 8) >>> 0;
  const pte = rd(mem, pteA), pteHi = rd(mem, pteA + 4);
  if (!(pte & P)) return fault(false, false);
  if (pteHi & rsvdHi) return fault(true, true);
  const xd = pdeXd || (nxe && (pteHi & 0x80000000) !== 0);
  return rights((pde & pte & RW) !== 0, (pde & pte & US) !== 0, xd, (pte & D) !== 0, (pte & G) !== 0, (pte & 0xfffff000) + (lin & 0xfff));
}

export const NOIO = { ioRead: () => 0xff, ioWrite: () => {} };

/**
 * A CPU in flat 32-bit protected mode with paging on (CR3 as given), CR0.WP optional.
 * The TLB and the decode cache are what these tests examine, so they are on unless the
 * options say otherwise (whatever TS86_FASTPATHS says for the rest of the suite).
 */
export function pagingCpu(mem: PhysMemory, cr3: number, opts: CpuOptions & { pae?: boolean; pse?: boolean; pge?: boolean; wp?: boolean; nxe?: boolean } = {}): Cpu {
  const cpu = new Cpu(mem, NOIO, { tlb: true, decodeCache: true, ...opts });
  cpu.setupFlat32(0x1000);
  cpu.cr4 = (opts.pae ? CR4_PAE : 0) | (opts.pse ? CR4_PSE : 0) | (opts.pge ? CR4_PGE : 0);
  cpu.efer = opts.nxe ? NXE : 0;
  cpu.cr0 = (cpu.cr0 | CR0_PE | CR0_PG | (opts.wp ? CR0_WP : 0)) >>> 0;
  cpu.cr3 = cr3;
  cpu.flushTlb(true);
  cpu.pagingChanged();
  return cpu;
}

export interface Outcome { phys?: number; pf?: { err: number; cr2: number } }

/** cpu.translate, with a #PF turned into a value. */
export function tryTranslate(cpu: Cpu, lin: number, acc: number): Outcome {
  try {
    return { phys: cpu.translate(lin >>> 0, acc) };
  } catch (e) {
    if (e !== FAULT) throw e;
    if (cpu.excVector !== PF_) throw new Error(`unexpected exception ${cpu.excVector}`);
    return { pf: { err: cpu.excError, cr2: cpu.cr2 } };
  }
}

/** Writes a 64-bit paging entry (low, high halves). */
export function w64(mem: PhysMemory, addr: number, lo: number, hi = 0): void {
  mem.write32(addr, lo >>> 0);
  mem.write32(addr + 4, hi >>> 0);
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const TLB_MODES = [{ name: 'TLB on', tlb: true }, { name: 'TLB off', tlb: false }] as const;
