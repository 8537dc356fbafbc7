// Reverse-map unit tests: inline -> list promotion and demotion, removal, entry-precise
// hash lookups, the bounded pool (reserve, stale reclamation, stealing), and the same
// properties seen through a CPU's TLB.
import { describe, expect, it } from 'vitest';
import { Rmap, type RmapOwner } from '../../src/mmu/rmap';
import { PhysMemory } from '../../src/mmu/physmem';
import { TLB_V } from '../../src/mmu/tlb';
import { P, RW, US, pagingCpu } from './mmu-helpers';

/** An owner whose dependents are keys in a map key -> gen; drop deletes. */
class FakeOwner implements RmapOwner {
  readonly live = new Map<number, number>();
  readonly dropped: number[] = [];
  isLive(key: number, gen: number): boolean { return this.live.get(key) === gen; }
  drop(key: number, gen: number): void {
    if (this.live.get(key) === gen) { this.live.delete(key); this.dropped.push(key); }
  }
}

function setup(capacity = 1024, reserve = 64): { rm: Rmap; own: FakeOwner; tracked: Set<number> } {
  const own = new FakeOwner();
  const rm = new Rmap(64, own, capacity, reserve);
  const tracked = new Set<number>();
  rm.onTracked = (f, t) => { if (t) tracked.add(f); else tracked.delete(f); };
  return { rm, own, tracked };
}

function dep(rm: Rmap, own: FakeOwner, frame: number, off: number, size: number, key: number, gen = 1): void {
  own.live.set(key, gen);
  rm.add(frame, off, size, key, gen);
}

describe('rmap', () => {
  it('stores one mapping inline, promotes on the second, demotes back to inline', () => {
    const { rm, own, tracked } = setup();
    dep(rm, own, 5, 0x10, 4, 1);
    expect(rm.count(5)).toBe(1);
    expect(rm.isPromoted(5)).toBe(false);
    expect(tracked.has(5)).toBe(true);
    expect(rm.stats.allocs).toBe(0); // inline: no pool entry
    dep(rm, own, 5, 0x20, 4, 2);
    expect(rm.isPromoted(5)).toBe(true);
    expect(rm.count(5)).toBe(2);
    expect(rm.stats.promotions).toBe(1);
    expect(rm.stats.allocs).toBe(2);
    dep(rm, own, 5, 0x30, 4, 3);
    rm.write(5, 0x20, 4);
    expect(own.dropped).toEqual([2]);
    expect(rm.count(5)).toBe(2);
    rm.write(5, 0x30, 4);
    expect(own.dropped).toEqual([2, 3]);
    expect(rm.isPromoted(5)).toBe(false); // one left: back inline, pool entries freed
    expect(rm.stats.demotions).toBe(1);
    expect(rm.freeEntries).toBe(1024);
    expect(rm.count(5)).toBe(1);
    rm.write(5, 0x10, 1);
    expect(own.dropped).toEqual([2, 3, 1]);
    expect(rm.count(5)).toBe(0);
    expect(tracked.has(5)).toBe(false);
  });

  it('a write to entry k drops exactly the dependents of entry k (4- and 8-byte entries, whole-frame dependents)', () => {
    const { rm, own } = setup();
    for (let k = 0; k < 32; k++) dep(rm, own, 7, k * 4, 4, 100 + k);
    dep(rm, own, 7, 0, 4096, 999); // decoded code of the frame: any write drops it
    rm.write(7, 12 * 4, 4);
    expect(own.dropped.sort()).toEqual([112, 999]);
    rm.write(7, 20 * 4 + 2, 1); // a byte inside entry 20
    expect(own.dropped).toContain(120);
    expect(own.dropped.length).toBe(3);
    rm.write(7, 3 * 4 + 2, 4); // straddles entries 3 and 4
    expect(own.dropped.filter((k) => k === 103 || k === 104).length).toBe(2);
    expect(own.dropped.length).toBe(5);
    // 8-byte PAE entries: a write to the high half (XD bit) hits the entry.
    for (let k = 0; k < 8; k++) dep(rm, own, 9, k * 8, 8, 200 + k);
    rm.write(9, 5 * 8 + 4, 4);
    expect(own.dropped.slice(5)).toEqual([205]);
    rm.write(9, 6 * 8 + 7, 1);
    expect(own.dropped.slice(6)).toEqual([206]);
  });

  it('several dependents of the same entry are all dropped (regression: demotion during the hash walk kept one)', () => {
    for (const size of [4, 600]) { // 600: the large-write path walks the frame list instead of the hash
      const { rm, own, tracked } = setup();
      dep(rm, own, 3, 0x40, 4, 1);
      dep(rm, own, 3, 0x40, 4, 2);
      dep(rm, own, 3, 0x40, 4, 3);
      rm.write(3, 0x40, size);
      expect(own.dropped.sort()).toEqual([1, 2, 3]);
      expect(rm.count(3)).toBe(0);
      expect(tracked.has(3)).toBe(false);
      expect(rm.freeEntries).toBe(1024); // nothing freed twice, nothing leaked
      dep(rm, own, 3, 0x40, 4, 4);
      dep(rm, own, 3, 0x80, 4, 5);
      rm.write(3, 0, 4096);
      expect(own.dropped.sort()).toEqual([1, 2, 3, 4, 5]);
      expect(rm.freeEntries).toBe(1024);
    }
  });

  it('reclaims stale entries (dependents dropped elsewhere) before stealing', () => {
    const { rm, own } = setup(64, 8);
    for (let k = 0; k < 60; k++) dep(rm, own, k % 4, (k >> 2) * 4, 4, 1000 + k);
    // The owner drops every dependent on its own (say, a TLB flush): all pool entries go stale.
    own.live.clear();
    for (let k = 0; k < 60; k++) dep(rm, own, 10 + (k % 4), (k >> 2) * 4, 4, 2000 + k);
    expect(rm.stats.reclaims).toBeGreaterThan(0);
    expect(rm.stats.steals).toBe(0);
    expect(own.dropped.length).toBe(0);
  });

  it('when the pool runs dry it steals (dropping the stolen dependent) and never fails, even with one busy frame', () => {
    const { rm, own } = setup(8, 2);
    for (let k = 0; k < 200; k++) dep(rm, own, 1, (k % 1024) * 4, 4, 10 + k);
    expect(rm.stats.steals).toBeGreaterThan(0);
    expect(rm.freeEntries).toBeGreaterThanOrEqual(0);
    // Every dependent still recorded is exactly a live one; the stolen ones were dropped.
    expect(own.live.size + own.dropped.length).toBe(200);
    expect(own.live.size).toBeLessThanOrEqual(9);
    // A write to each live dependent's entry still finds it.
    for (const [key] of [...own.live]) rm.write(1, (key - 10) * 4, 4);
    expect(own.live.size).toBe(0);
    // Many frames with two mappings each.
    const b = setup(16, 4);
    for (let k = 0; k < 300; k++) dep(b.rm, b.own, k % 30, (k % 7) * 4, 4, 5000 + k);
    expect(b.rm.stats.steals).toBeGreaterThan(0);
    for (let f = 0; f < 30; f++) b.rm.dropFrame(f);
    expect(b.own.live.size).toBe(0);
    expect(b.rm.freeEntries).toBe(16);
  });
});

describe('rmap through the TLB', () => {
  // PD 0x10000: PDE 0 -> PT 0x11000, PDE 1 -> PT 0x12000; each PT maps 16 pages.
  function machine(rmapCapacity?: number) {
    const mem = new PhysMemory(4 << 20);
    mem.write32(0x10000, 0x11000 | P | RW | US);
    mem.write32(0x10004, 0x12000 | P | RW | US);
    for (let k = 0; k < 16; k++) {
      mem.write32(0x11000 + k * 4, (0x100000 + k * 0x1000) | P | RW | US);
      mem.write32(0x12000 + k * 4, (0x200000 + k * 0x1000) | P | RW | US);
    }
    const cpu = pagingCpu(mem, 0x10000, { rmapCapacity });
    for (let k = 0; k < 16; k++) { cpu.translate(k << 12, 0); cpu.translate(0x400000 + (k << 12), 0); }
    const cached = (lin: number) => (cpu.tlb.cur[lin >>> 12] & TLB_V) !== 0;
    return { mem, cpu, cached };
  }

  it('a PTE write drops only the translation derived from it; a PDE write drops everything under it', () => {
    const { mem, cpu, cached } = machine();
    for (let k = 0; k < 16; k++) expect(cached(k << 12) && cached(0x400000 + (k << 12))).toBe(true);
    mem.write32(0x11000 + 5 * 4, 0x150000 | P | RW | US); // PTE 5 of PT 0
    for (let k = 0; k < 16; k++) {
      expect(cached(k << 12)).toBe(k !== 5);
      expect(cached(0x400000 + (k << 12))).toBe(true);
    }
    expect(cpu.translate(0x5000, 0)).toBe(0x150000);
    mem.write8(0x10004 + 1, 0x30); // PDE 1 now points at PT 0x13000 (a one-byte write into the PDE)
    for (let k = 0; k < 16; k++) {
      expect(cached(k << 12)).toBe(true);
      expect(cached(0x400000 + (k << 12))).toBe(false);
    }
    const st = cpu.mmuStats().rmap;
    expect(st.invalidations).toBeGreaterThanOrEqual(17);
  });

  it('DMA over a page table drops the translations derived from the entries it overwrites', () => {
    const { mem, cached } = machine();
    mem.dmaWrite(0x12000 + 4 * 4, new Uint8Array(8)); // PTEs 4 and 5 of PT 1
    for (let k = 0; k < 16; k++) expect(cached(0x400000 + (k << 12))).toBe(k !== 4 && k !== 5);
  });

  it('a tiny rmap pool steals and stays correct', () => {
    const { mem, cpu } = machine(8);
    expect(cpu.mmuStats().rmap.steals).toBeGreaterThan(0);
    for (let k = 0; k < 16; k++) mem.write32(0x11000 + k * 4, (0x300000 + k * 0x1000) | P | RW | US);
    for (let k = 0; k < 16; k++) expect(cpu.translate(k << 12, 0)).toBe(0x300000 + k * 0x1000);
  });
});

describe('TLB slots', () => {
  it('global entries kept through an overflowed flush are still dropped by a later full flush (regression)', async () => {
    const { Tlb, TLB_G } = await import('../../src/mmu/tlb');
    const rm = new Rmap(16, { isLive: () => false, drop: () => {} });
    const tlb = new Tlb(rm, 0, 4, false);
    rm.owner = tlb;
    const none = new Float64Array(0), sizes = new Uint8Array(0);
    for (let lpn = 0; lpn < 9000; lpn++) tlb.fill(lpn, ((lpn & 0xff) << 12) | TLB_V | (lpn % 100 === 0 ? TLB_G : 0), none, sizes, 0);
    tlb.setCr3(0x5000, true); // overflowed fill list: full scan, globals kept
    expect(tlb.cur[0] & TLB_G).toBe(TLB_G);
    expect(tlb.cur[1]).toBe(0);
    tlb.flushAll(0x5000); // CR4.PGE cleared / paging-mode change: globals must go too
    for (let lpn = 0; lpn < 9000; lpn += 100) expect(tlb.cur[lpn]).toBe(0);
  });
});
