// The software TLB of one vCPU, tagged by address space.
//
// Each address-space slot is a direct table of 2^20 entries indexed by the linear page
// number (32-bit linear space). An entry is the physical frame base | permission bits,
// 0 when empty. Every cached translation is registered in the reverse map under the
// page-table entries it was derived from, so a write to any of them drops exactly that
// translation: cached translations are never stale. That is what makes it safe to keep
// the translations of recently used address spaces across CR3 loads (a context switch
// back finds its TLB warm) — the architecture lets a TLB keep or drop entries at will,
// as long as it never uses one that disagrees with memory after an invalidation.

import type { Rmap } from './rmap';

// Entry bits (the frame base is in bits 12-31).
export const TLB_V = 1, TLB_W = 2, TLB_U = 4, TLB_D = 8, TLB_X = 16, TLB_G = 32;
/**
 * The frame is RAM, not MMIO: compiled code's inline accesses need it (Cpu.jitNeed), so
 * they load no frame kind to exclude MMIO. Which frames are MMIO is fixed when the
 * PhysMemory is built (PAGE_MMIO: the frames past RAM), so an entry's bit never goes stale.
 */
export const TLB_RAM = 64;

export interface TlbStats {
  hits: number;
  misses: number;
  flushes: number;
  walks: number;
  cr3Switches: number;
  cr3Reuses: number;
}

const PAGES = 1 << 20;
/** Filled-entry list length per slot; beyond it a flush clears the whole table. */
const FILL_LIST = 8192;

export class Tlb {
  readonly stats: TlbStats = { hits: 0, misses: 0, flushes: 0, walks: 0, cr3Switches: 0, cr3Reuses: 0 };
  /** The current address space's entries (read by the CPU's fast path). */
  cur: Int32Array;
  curSlot = 0;
  /** Keep other address spaces' translations across CR3 loads (off = flush on every CR3 load). */
  keepAcrossCr3: boolean;

  private readonly tables: (Int32Array | null)[];
  private readonly gens: (Int32Array | null)[];
  private readonly filled: Int32Array[];
  private readonly fillCount: Int32Array;
  private readonly overflow: Uint8Array;
  private readonly slotCr3: Float64Array;
  private readonly slotUse: Float64Array;
  private useClock = 0;
  /** Dependencies of global entries, by rmap key (see carryGlobals). */
  private readonly globalDeps = new Map<number, { gen: number; deps: Float64Array; sizes: Uint8Array; n: number }>();
  private gen = 1;

  /** `alloc`: where slot s's table lives (default: a new Int32Array); it must come zeroed. */
  constructor(readonly rmap: Rmap, readonly keyBase: number, slots = 4, keepAcrossCr3 = true, private readonly alloc: ((slot: number) => Int32Array | null) | null = null) {
    this.keepAcrossCr3 = keepAcrossCr3;
    this.tables = new Array<Int32Array | null>(slots).fill(null);
    this.gens = new Array<Int32Array | null>(slots).fill(null);
    this.filled = Array.from({ length: slots }, () => new Int32Array(FILL_LIST));
    this.fillCount = new Int32Array(slots);
    this.overflow = new Uint8Array(slots);
    this.slotCr3 = new Float64Array(slots).fill(-1);
    this.slotUse = new Float64Array(slots);
    this.cur = this.table(0);
  }

  get slots(): number { return this.tables.length; }

  private table(s: number): Int32Array {
    let t = this.tables[s];
    if (!t) {
      t = this.alloc?.(s) ?? new Int32Array(PAGES);
      this.tables[s] = t;
      this.gens[s] = new Int32Array(PAGES);
    }
    return t;
  }

  /** Rmap key of (slot, lpn). */
  key(slot: number, lpn: number): number { return this.keyBase | (slot << 20) | lpn; }

  isLive(key: number, gen: number): boolean {
    const slot = (key >>> 20) & 7, lpn = key & 0xfffff;
    const t = this.tables[slot];
    return t !== null && t[lpn] !== 0 && this.gens[slot]![lpn] === gen;
  }

  drop(key: number, gen: number): void {
    const slot = (key >>> 20) & 7, lpn = key & 0xfffff;
    const t = this.tables[slot];
    if (t !== null && this.gens[slot]![lpn] === gen) t[lpn] = 0;
  }

  /** Installs a translation for linear page `lpn` in the current slot and registers its dependencies. */
  fill(lpn: number, entry: number, deps: Float64Array, depSizes: Uint8Array, ndeps: number): void {
    const s = this.curSlot;
    const t = this.cur;
    const g = this.gen = (this.gen + 1) & 0x7fffffff || 1;
    t[lpn] = entry;
    this.gens[s]![lpn] = g;
    const n = this.fillCount[s];
    if (n < FILL_LIST) { this.filled[s][n] = lpn; this.fillCount[s] = n + 1; } else this.overflow[s] = 1;
    const k = this.key(s, lpn);
    if (entry & TLB_G) {
      // Remember what a global translation derives from, so a CR3 load into a fresh slot
      // can carry it over (registered under the same paging-structure entries).
      let r = this.globalDeps.get(k);
      if (!r) { r = { gen: 0, deps: new Float64Array(4), sizes: new Uint8Array(4), n: 0 }; this.globalDeps.set(k, r); }
      r.gen = g; r.n = ndeps;
      for (let d = 0; d < ndeps; d++) { r.deps[d] = deps[d]; r.sizes[d] = depSizes[d]; }
    }
    for (let d = 0; d < ndeps; d++) {
      const a = deps[d];
      this.rmap.add(Math.floor(a / 4096), a % 4096, depSizes[d], k, g);
    }
  }

  /**
   * Copies the live global entries of slot `from` into the current slot. SDM Vol.3A
   * §4.10.2.4: with CR4.PGE=1, translations of global pages are not invalidated by a CR3
   * load. Each copy is registered in the rmap under the entries the original derives
   * from, so it is dropped exactly when they change.
   */
  private carryGlobals(from: number): void {
    const t = this.tables[from];
    if (!t) return;
    const gs = this.gens[from]!;
    const copy = (lpn: number): void => {
      const e = t[lpn];
      if (e === 0 || !(e & TLB_G) || this.cur[lpn] !== 0) return;
      const r = this.globalDeps.get(this.key(from, lpn));
      if (!r || r.gen !== gs[lpn]) return;
      this.fill(lpn, e, r.deps, r.sizes, r.n);
    };
    if (this.overflow[from]) { for (let p = 0; p < PAGES; p++) if (t[p] & TLB_G) copy(p); }
    else { const f = this.filled[from]; for (let k = 0, n = this.fillCount[from]; k < n; k++) copy(f[k]); }
  }

  /** Empties one slot (optionally keeping global entries). */
  private flushSlot(s: number, keepGlobal: boolean): void {
    const t = this.tables[s];
    if (!t) return;
    this.stats.flushes++;
    if (this.overflow[s] && !keepGlobal) {
      t.fill(0);
    } else if (this.overflow[s]) {
      // Keep the global entries, and list them again: a later flush that drops globals too
      // (CR4.PGE cleared, paging-mode change) must still find them.
      const f = this.filled[s];
      let kept = 0, over = 0;
      for (let p = 0; p < PAGES; p++) {
        if (t[p] === 0) continue;
        if (!(t[p] & TLB_G)) { t[p] = 0; continue; }
        if (kept < FILL_LIST) f[kept++] = p; else over = 1;
      }
      this.fillCount[s] = kept;
      this.overflow[s] = over;
      return;
    } else {
      const f = this.filled[s];
      let kept = 0;
      for (let k = 0; k < this.fillCount[s]; k++) {
        const p = f[k];
        if (keepGlobal && t[p] & TLB_G) f[kept++] = p; else t[p] = 0;
      }
      this.fillCount[s] = kept;
      return;
    }
    this.fillCount[s] = 0;
    this.overflow[s] = 0;
  }

  /** CR3 load: switch to the slot of this address space (kept warm), or recycle the least recently used one. */
  setCr3(cr3: number, pgeGlobalKeep: boolean): void {
    this.stats.cr3Switches++;
    const tag = cr3 >>> 0;
    if (!this.keepAcrossCr3) {
      // Architectural minimum: drop every non-global entry of the current space.
      this.flushSlot(this.curSlot, pgeGlobalKeep);
      this.slotCr3[this.curSlot] = tag;
      return;
    }
    // The victim is the least recently used slot other than the current one (whose
    // global entries are carried over).
    let victim = this.tables.length > 1 && this.curSlot === 0 ? 1 : 0;
    for (let s = 0; s < this.tables.length; s++) {
      if (this.slotCr3[s] === tag) {
        this.stats.cr3Reuses++;
        this.select(s);
        return;
      }
      if (s !== this.curSlot && this.slotUse[s] < this.slotUse[victim]) victim = s;
    }
    this.flushSlot(victim, false);
    this.slotCr3[victim] = tag;
    const from = this.curSlot;
    this.select(victim);
    if (pgeGlobalKeep && from !== victim) this.carryGlobals(from);
  }

  private select(s: number): void {
    this.curSlot = s;
    this.cur = this.table(s);
    this.slotUse[s] = ++this.useClock;
  }

  /** INVLPG: drops the page in every address space (covers global pages too). */
  invalidatePage(lpn: number): void {
    for (let s = 0; s < this.tables.length; s++) {
      const t = this.tables[s];
      if (t) t[lpn] = 0;
    }
  }

  /** Everything (paging-mode changes, CR4.PGE/PSE/PAE, EFER.NXE, A20). The current slot stays tagged with `cr3`. */
  flushAll(cr3: number): void {
    for (let s = 0; s < this.tables.length; s++) { this.flushSlot(s, false); this.slotCr3[s] = -1; }
    this.slotCr3[this.curSlot] = cr3 >>> 0;
  }
}
