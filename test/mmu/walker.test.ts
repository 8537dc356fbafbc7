// Paging-mode unit tests: the permission matrix, #PF error codes and CR2, A/D bits,
// large pages, reserved bits, global pages, INVLPG and page-crossing writes — each run
// through Cpu.translate with the TLB on and with it off (every access walks), and
// checked against the pure reference walker of mmu-helpers.ts.
import { describe, expect, it } from 'vitest';
import { CR0_PG, CR0_PE, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE } from '../../src/cpu/consts';
import { PhysMemory } from '../../src/mmu/physmem';
import { newWalkResult, walk32, walkPae } from '../../src/mmu/walker';
import { A, ACC_FETCH, ACC_USER, ACC_WRITE, D, G, NXE, P, PS, RW, TLB_MODES, US, pagingCpu, refWalk, tryTranslate, w64 } from './mmu-helpers';

const KINDS = [
  { name: 'read', acc: 0 },
  { name: 'write', acc: ACC_WRITE },
  { name: 'fetch', acc: ACC_FETCH },
] as const;

/** The SDM §4.6 rule, spelled out independently of both walkers. */
function expectedErr(us: boolean, rw: boolean, wp: boolean, xd: boolean, user: boolean, acc: number, nxe: boolean): number {
  let ok = true;
  if (user && !us) ok = false;
  if (acc & ACC_WRITE && !rw && (user || wp)) ok = false;
  if (acc & ACC_FETCH && xd) ok = false;
  if (ok) return -1;
  return 1 | (acc & ACC_WRITE ? 2 : 0) | (user ? 4 : 0) | (nxe && acc & ACC_FETCH ? 16 : 0);
}

// 32-bit layout: PD 0x10000; PDE 1 -> PT 0x11000 (full rights, restrictions in the PTE);
// PDE 2 -> PT 0x12000 (restrictions in the PDE, full rights in the PTE). Page k of a
// table maps to 0x100000 + k * 0x1000.
function build32(mem: PhysMemory): void {
  mem.write32(0x10000 + 1 * 4, 0x11000 | P | RW | US);
  for (let k = 0; k < 8; k++) mem.write32(0x11000 + k * 4, (0x100000 + k * 0x1000) | P | (k & 1 ? RW : 0) | (k & 2 ? US : 0));
  for (let k = 0; k < 4; k++) {
    mem.write32(0x10000 + (2 + k) * 4, (0x12000 + k * 0x1000) | P | (k & 1 ? RW : 0) | (k & 2 ? US : 0));
    mem.write32(0x12000 + k * 0x1000, 0x100000 | P | RW | US);
  }
}

// PAE layout: PDPT 0x10000 (4 entries), PD 0x11000 under PDPTE 0; PDE 0 -> PT 0x12000
// with restrictions (and XD) in the PTE; PDE 1+k -> PT 0x13000+k*0x1000 restricted in the PDE.
function buildPae(mem: PhysMemory): void {
  w64(mem, 0x10000, 0x11000 | P);
  w64(mem, 0x11000, 0x12000 | P | RW | US);
  for (let k = 0; k < 8; k++) w64(mem, 0x12000 + k * 8, (0x100000 + k * 0x1000) | P | (k & 1 ? RW : 0) | (k & 2 ? US : 0), k & 4 ? 0x80000000 : 0);
  for (let k = 0; k < 8; k++) {
    w64(mem, 0x11000 + (1 + k) * 8, (0x13000 + k * 0x1000) | P | (k & 1 ? RW : 0) | (k & 2 ? US : 0), k & 4 ? 0x80000000 : 0);
    w64(mem, 0x13000 + k * 0x1000, 0x100000 | P | RW | US);
  }
}

describe.each(TLB_MODES)('permission matrix ($name)', ({ tlb }) => {
  for (const wp of [false, true]) {
    it(`32-bit paging, CR0.WP=${+wp}: U/S x R/W x CPL x read/write/fetch (PTE and PDE level)`, () => {
      const mem = new PhysMemory(4 << 20);
      build32(mem);
      const cpu = pagingCpu(mem, 0x10000, { tlb, wp });
      let checked = 0;
      for (let round = 0; round < 2; round++) { // round 2 hits whatever the TLB kept
        for (const level of ['pte', 'pde'] as const) {
          for (let k = 0; k < 4; k++) {
            const lin = level === 'pte' ? 0x400000 + k * 0x1000 + 0x10 : (2 + k) * 0x400000 + 0x10;
            for (const user of [false, true]) for (const kind of KINDS) {
              const acc = kind.acc | (user ? ACC_USER : 0);
              const want = expectedErr((k & 2) !== 0, (k & 1) !== 0, wp, false, user, kind.acc, false);
              const got = tryTranslate(cpu, lin, acc);
              const ref = refWalk(mem, cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer, lin, acc);
              if (want < 0) {
                expect(got.pf, `${level} k=${k} user=${user} ${kind.name}`).toBeUndefined();
                expect(got.phys).toBe(level === 'pte' ? 0x100010 + k * 0x1000 : 0x100010);
                expect(ref.ok).toBe(true);
              } else {
                expect(got.pf, `${level} k=${k} user=${user} ${kind.name}`).toEqual({ err: want, cr2: lin });
                expect(ref.err).toBe(want);
              }
              checked++;
            }
          }
        }
      }
      expect(checked).toBe(2 * 2 * 4 * 2 * 3);
    });

    for (const nxe of [false, true]) {
      it(`PAE paging, CR0.WP=${+wp}, EFER.NXE=${+nxe}: U/S x R/W x XD x CPL x read/write/fetch`, () => {
        const mem = new PhysMemory(4 << 20);
        buildPae(mem);
        const cpu = pagingCpu(mem, 0x10000, { tlb, wp, pae: true, nxe });
        for (let round = 0; round < 2; round++) {
          for (const level of ['pte', 'pde'] as const) {
            for (let k = 0; k < 8; k++) {
              const lin = level === 'pte' ? k * 0x1000 + 0x20 : (1 + k) * 0x200000 + 0x20;
              for (const user of [false, true]) for (const kind of KINDS) {
                const acc = kind.acc | (user ? ACC_USER : 0);
                const xdSet = (k & 4) !== 0;
                const got = tryTranslate(cpu, lin, acc);
                if (xdSet && !nxe) {
                  // Bit 63 is reserved when EFER.NXE=0 (SDM Vol.3A §4.4.2, Table 4-11 ff.): RSVD fault.
                  expect(got.pf).toEqual({ err: 1 | 8 | (kind.acc & ACC_WRITE ? 2 : 0) | (user ? 4 : 0), cr2: lin });
                  continue;
                }
                const want = expectedErr((k & 2) !== 0, (k & 1) !== 0, wp, xdSet, user, kind.acc, nxe);
                if (want < 0) expect(got.phys, `${level} k=${k} user=${user} ${kind.name}`).toBe(level === 'pte' ? 0x100020 + k * 0x1000 : 0x100020);
                else expect(got.pf, `${level} k=${k} user=${user} ${kind.name}`).toEqual({ err: want, cr2: lin });
                expect(refWalk(mem, cpu.cr0, cpu.cr3, cpu.cr4, cpu.efer, lin, acc).err).toBe(want < 0 ? 0 : want);
              }
            }
          }
        }
      });
    }
  }

  it('not-present faults: P=0 in the error code; I/D only with PAE and NXE (SDM §4.7)', () => {
    const mem = new PhysMemory(4 << 20);
    build32(mem);
    const c32 = pagingCpu(mem, 0x10000, { tlb });
    expect(tryTranslate(c32, 0x00c00123, ACC_FETCH | ACC_USER).pf).toEqual({ err: 1 | 4, cr2: 0x00c00123 }); // PDE 3 lacks U/S: present, user
    mem.write32(0x11000 + 9 * 4, 0); // PTE not present
    expect(tryTranslate(c32, 0x409abc, ACC_WRITE | ACC_USER).pf).toEqual({ err: 2 | 4, cr2: 0x409abc });
    expect(tryTranslate(c32, 0x409abc, ACC_FETCH).pf).toEqual({ err: 0, cr2: 0x409abc });
    expect(tryTranslate(c32, 0x80000000, 0).pf).toEqual({ err: 0, cr2: 0x80000000 }); // PDE not present
    const pm = new PhysMemory(4 << 20);
    buildPae(pm);
    const cp = pagingCpu(pm, 0x10000, { tlb, pae: true, nxe: true });
    expect(tryTranslate(cp, 0x40000000, ACC_FETCH).pf).toEqual({ err: 16, cr2: 0x40000000 }); // PDPTE 1 not present
    expect(tryTranslate(cp, 0x9000, ACC_FETCH | ACC_USER).pf).toEqual({ err: 16 | 4, cr2: 0x9000 }); // PTE 9 not present
    const cn = pagingCpu(pm, 0x10000, { tlb, pae: true, nxe: false });
    expect(tryTranslate(cn, 0x9000, ACC_FETCH | ACC_USER).pf).toEqual({ err: 4, cr2: 0x9000 });
  });
});

describe.each(TLB_MODES)('accessed and dirty bits ($name)', ({ tlb }) => {
  it('32-bit: A on any allowed access (PDE and PTE), D only on a successful write, also after a read-only TLB fill', () => {
    const mem = new PhysMemory(4 << 20);
    build32(mem);
    const cpu = pagingCpu(mem, 0x10000, { tlb, wp: true });
    const pde = () => mem.read32(0x10004), pte = (k: number) => mem.read32(0x11000 + k * 4);
    expect(pde() & A).toBe(0);
    tryTranslate(cpu, 0x403000, 0); // k=3: RW|US
    expect(pde() & A).toBe(A);
    expect(pte(3) & (A | D)).toBe(A);
    tryTranslate(cpu, 0x403004, 0); // a second read (a TLB hit when on) changes nothing
    expect(pte(3) & (A | D)).toBe(A);
    tryTranslate(cpu, 0x403008, ACC_WRITE); // write after the read-only fill: must walk and set D
    expect(pte(3) & (A | D)).toBe(A | D);
    // Denied accesses set neither bit (k=2: US only, read-only).
    expect(tryTranslate(cpu, 0x402000, ACC_WRITE | ACC_USER).pf?.err).toBe(7);
    expect(pte(2) & (A | D)).toBe(0);
    expect(tryTranslate(cpu, 0x400000, ACC_USER).pf?.err).toBe(5); // k=0 supervisor-only
    expect(pte(0) & (A | D)).toBe(0);
    // A fetch sets A, not D.
    tryTranslate(cpu, 0x401000, ACC_FETCH);
    expect(pte(1) & (A | D)).toBe(A);
    // The guest clears D (e.g. after writing the page back): the next write sets it again.
    mem.write32(0x11000 + 3 * 4, pte(3) & ~D);
    tryTranslate(cpu, 0x403000, ACC_WRITE);
    expect(pte(3) & D).toBe(D);
  });

  it('supervisor write to a read-only page with WP=0 succeeds and sets D', () => {
    const mem = new PhysMemory(4 << 20);
    build32(mem);
    const cpu = pagingCpu(mem, 0x10000, { tlb, wp: false });
    tryTranslate(cpu, 0x400000, 0);
    expect(tryTranslate(cpu, 0x400000, ACC_WRITE).phys).toBe(0x100000);
    expect(mem.read32(0x11000) & (A | D)).toBe(A | D);
  });

  it('PAE: A/D in the 8-byte entries, high half (XD) untouched; large page A/D in the PDE', () => {
    const mem = new PhysMemory(4 << 20);
    buildPae(mem);
    w64(mem, 0x11000 + 10 * 8, 0x200000 | P | RW | PS, 0x80000000); // 2 MiB page at lin 0x1400000, XD
    const cpu = pagingCpu(mem, 0x10000, { tlb, pae: true, nxe: true });
    tryTranslate(cpu, 0x5000, 0); // k=5: RW, XD
    expect(mem.read32(0x12000 + 5 * 8) & (A | D)).toBe(A);
    expect(mem.read32(0x12000 + 5 * 8 + 4)).toBe(0x80000000);
    expect(mem.read32(0x11000) & A).toBe(A);
    expect(mem.read32(0x10000) & (A | 0x1e6)).toBe(0); // PDPTEs have no A bit in PAE paging (§4.4.1)
    tryTranslate(cpu, 0x5000, ACC_WRITE);
    expect(mem.read32(0x12000 + 5 * 8) & (A | D)).toBe(A | D);
    expect(tryTranslate(cpu, 0x1400000 + 0x1234, 0).phys).toBe(0x201234);
    expect(mem.read32(0x11000 + 10 * 8) & (A | D)).toBe(A);
    expect(tryTranslate(cpu, 0x1400000 + 0x1234, ACC_WRITE).phys).toBe(0x201234);
    expect(mem.read32(0x11000 + 10 * 8) & (A | D)).toBe(A | D);
    expect(tryTranslate(cpu, 0x1400000, ACC_FETCH).pf).toEqual({ err: 1 | 16, cr2: 0x1400000 });
  });
});

describe.each(TLB_MODES)('large pages and reserved bits ($name)', ({ tlb }) => {
  it('4 MiB pages with CR4.PSE; PS ignored without PSE; bits 13-21 reserved (RSVD fault)', () => {
    const mem = new PhysMemory(16 << 20);
    mem.write32(0x10000 + 2 * 4, 0x400000 | P | RW | US | PS); // lin 0x800000 -> phys 0x400000
    mem.write32(0x10000 + 3 * 4, 0x400000 | 0x2000 | P | RW | PS); // reserved bit 13
    const cpu = pagingCpu(mem, 0x10000, { tlb, pse: true });
    expect(tryTranslate(cpu, 0x8abcde, ACC_USER | ACC_WRITE).phys).toBe(0x4abcde);
    expect(mem.read32(0x10008) & (A | D)).toBe(A | D);
    expect(tryTranslate(cpu, 0xc00000, 0).pf).toEqual({ err: 1 | 8, cr2: 0xc00000 });
    expect(tryTranslate(cpu, 0xc00010, ACC_WRITE | ACC_USER).pf).toEqual({ err: 1 | 2 | 4 | 8, cr2: 0xc00010 });
    // Without PSE the same PDE points at a page table (at 0x400000 + flags masked off).
    mem.write32(0x400000 + 0xab * 4, 0x123000 | P | RW | US);
    const nopse = pagingCpu(mem, 0x10000, { tlb, pse: false });
    expect(tryTranslate(nopse, 0x8abcde, 0).phys).toBe(0x123cde);
    expect(tryTranslate(nopse, 0xc00000, 0).pf).toEqual({ err: 0, cr2: 0xc00000 }); // a page table at 0x402000: not present, no RSVD
  });

  it('2 MiB PAE pages; reserved bits in the PDE (13-20), PTE high half, PDPTE', () => {
    const mem = new PhysMemory(8 << 20);
    buildPae(mem);
    w64(mem, 0x11000 + 20 * 8, 0x400000 | P | RW | US | PS); // lin 0x2800000 -> phys 0x400000
    w64(mem, 0x11000 + 21 * 8, 0x400000 | 0x100000 | P | RW | PS); // bit 20 reserved
    w64(mem, 0x12000 + 30 * 8, 0x100000 | P | RW, 0x1); // physical bit 32: beyond MAXPHYADDR, reserved
    w64(mem, 0x10000 + 8, 0x11000 | P | 0x2); // PDPTE 1 with reserved bit 1
    const cpu = pagingCpu(mem, 0x10000, { tlb, pae: true, nxe: true });
    expect(tryTranslate(cpu, 0x2812345, ACC_USER).phys).toBe(0x412345);
    expect(tryTranslate(cpu, 0x2a00000, ACC_WRITE).pf).toEqual({ err: 1 | 2 | 8, cr2: 0x2a00000 });
    expect(tryTranslate(cpu, 0x1e000, ACC_FETCH).pf).toEqual({ err: 1 | 8 | 16, cr2: 0x1e000 });
    expect(tryTranslate(cpu, 0x40000000, 0).pf).toEqual({ err: 1 | 8, cr2: 0x40000000 });
  });
});

describe('global pages, CR3 loads and INVLPG', () => {
  // Two 32-bit address spaces sharing one "kernel" page table (PDE 1, global PTEs) and
  // each with its own user page table (PDE 0).
  function twoSpaces(mem: PhysMemory): void {
    for (const [pd, pt] of [[0x10000, 0x12000], [0x11000, 0x13000]]) {
      mem.write32(pd, pt | P | RW | US);
      mem.write32(pd + 4, 0x14000 | P | RW);
      mem.write32(pt + 5 * 4, (pd === 0x10000 ? 0x200000 : 0x300000) | P | RW | US);
    }
    mem.write32(0x14000 + 7 * 4, 0x180000 | P | RW | G);
  }

  for (const keep of [true, false]) {
    it(`global translations survive CR3 loads with CR4.PGE (keepAcrossCr3=${keep}); non-global ones are not used in another space`, () => {
      const mem = new PhysMemory(4 << 20);
      twoSpaces(mem);
      const cpu = pagingCpu(mem, 0x10000, { pge: true, tlbKeepAcrossCr3: keep });
      expect(cpu.translate(0x407010, 0)).toBe(0x180010);
      expect(cpu.translate(0x5010, 0)).toBe(0x200010);
      cpu.loadCr3(0x11000);
      const walks = cpu.mmuStats().tlb.walks;
      expect(cpu.translate(0x407020, 0)).toBe(0x180020); // global: no walk
      expect(cpu.mmuStats().tlb.walks).toBe(walks);
      expect(cpu.translate(0x5010, 0)).toBe(0x300010); // the other space's user page
      expect(cpu.mmuStats().tlb.walks).toBe(walks + 1);
      // Without PGE the G bit means nothing: the kernel page is walked again.
      const nog = pagingCpu(mem, 0x10000, { pge: false, tlbKeepAcrossCr3: keep });
      nog.translate(0x407010, 0);
      nog.loadCr3(0x11000);
      const w0 = nog.mmuStats().tlb.walks;
      nog.translate(0x407010, 0);
      expect(nog.mmuStats().tlb.walks).toBe(w0 + 1);
    });
  }

  it('MOV CR3 to the same value, to another space and back: translations always match the current CR3', () => {
    for (const keep of [true, false]) {
      const mem = new PhysMemory(4 << 20);
      twoSpaces(mem);
      const cpu = pagingCpu(mem, 0x10000, { tlbKeepAcrossCr3: keep });
      for (let k = 0; k < 6; k++) {
        const cr3 = k % 2 ? 0x11000 : 0x10000;
        cpu.loadCr3(cr3);
        expect(cpu.translate(0x5abc, ACC_USER)).toBe((k % 2 ? 0x300abc : 0x200abc));
      }
    }
  });

  it.each(TLB_MODES)('INVLPG drops one page; a remapped PTE is seen at once either way ($name)', ({ tlb }) => {
    const mem = new PhysMemory(4 << 20);
    twoSpaces(mem);
    const cpu = pagingCpu(mem, 0x10000, { tlb });
    expect(cpu.translate(0x5000, 0)).toBe(0x200000);
    expect(cpu.translate(0x407000, 0)).toBe(0x180000);
    cpu.invlpg(0x5000);
    const walks = cpu.mmuStats().tlb.walks;
    expect(cpu.translate(0x5000, 0)).toBe(0x200000);
    expect(cpu.translate(0x407000, 0)).toBe(0x180000);
    expect(cpu.mmuStats().tlb.walks).toBe(walks + (tlb ? 1 : 2));
    // The software TLB is coherent with memory: a PTE write drops the translation
    // (the architecture allows the stale one until INVLPG; never relying on that is safe).
    mem.write32(0x12000 + 5 * 4, 0x250000 | P | RW | US);
    expect(cpu.translate(0x5000, 0)).toBe(0x250000);
  });
});

describe.each(TLB_MODES)('page-crossing writes ($name)', ({ tlb }) => {
  const code = [0xa3, 0xfe, 0x0f, 0x40, 0x00, 0xf4]; // mov [0x400ffe], eax; hlt
  function run(pae: boolean): { mem: PhysMemory; vec: number; err: number; cr2: number } {
    const mem = new PhysMemory(4 << 20);
    if (pae) {
      w64(mem, 0x10000, 0x11000 | P);
      w64(mem, 0x11000, 0x12000 | P | RW);
      w64(mem, 0x11000 + 8 * 2, 0x13000 | P | RW); // lin 0x400000..
      for (let k = 0; k < 512; k++) w64(mem, 0x12000 + k * 8, (k << 12) | P | RW);
      w64(mem, 0x13000, 0x100000 | P | RW);
      w64(mem, 0x13000 + 8, 0x101000 | P); // read-only second page
    } else {
      mem.write32(0x10000, 0x12000 | P | RW);
      mem.write32(0x10004, 0x13000 | P | RW);
      for (let k = 0; k < 1024; k++) mem.write32(0x12000 + k * 4, (k << 12) | P | RW);
      mem.write32(0x13000, 0x100000 | P | RW);
      mem.write32(0x13004, 0x101000 | P);
    }
    // IDT entry 14 -> handler at 0x3000 that halts; a flat GDT.
    mem.write32(0x800 + 8, 0x0000ffff); mem.write32(0x800 + 12, 0x00cf9a00);
    mem.write32(0x800 + 16, 0x0000ffff); mem.write32(0x800 + 20, 0x00cf9200);
    mem.write32(0x1800 + 14 * 8, (0x08 << 16) | 0x3000);
    mem.write32(0x1804 + 14 * 8, 0x8e00);
    mem.write8(0x3000, 0xf4);
    mem.ram.set(code, 0x1000);
    mem.write32(0x100ffc, 0x11111111);
    mem.write32(0x101000, 0x22222222);
    const cpu = pagingCpu(mem, 0x10000, { tlb, pae, wp: true });
    cpu.gdtr = { base: 0x800, limit: 23 };
    cpu.idtr = { base: 0x1800, limit: 0x7ff };
    cpu.r32[4] = 0x9000;
    cpu.r32[0] = 0xaabbccdd;
    cpu.run(10);
    return { mem, vec: cpu.lastException, err: mem.read32(0x9000 - 16), cr2: cpu.cr2 };
  }
  for (const pae of [false, true]) {
    it(`${pae ? 'PAE' : '32-bit'}: a dword write faulting on the second page writes nothing; CR2 = first byte of the second page`, () => {
      const r = run(pae);
      expect(r.vec).toBe(14);
      expect(r.err).toBe(1 | 2);
      expect(r.cr2).toBe(0x401000);
      expect(r.mem.read32(0x100ffc)).toBe(0x11111111);
      expect(r.mem.read32(0x101000)).toBe(0x22222222);
    });
  }
});

describe('walker entry points', () => {
  it('walk32/walkPae report their dependencies (entry addresses and sizes)', () => {
    const mem = new PhysMemory(4 << 20);
    build32(mem);
    const w = newWalkResult();
    walk32(mem, 0x10000, 0x403000, 0, false, false, w);
    expect(w.ok).toBe(true);
    expect([...w.deps!.slice(0, w.ndeps)]).toEqual([0x10004, 0x1100c]);
    expect([...w.depSizes!.slice(0, w.ndeps)]).toEqual([4, 4]);
    const pm = new PhysMemory(4 << 20);
    buildPae(pm);
    walkPae(pm, 0x10000, 0x3000, 0, false, true, w);
    expect([...w.deps!.slice(0, w.ndeps)]).toEqual([0x10000, 0x11000, 0x12018]);
    expect([...w.depSizes!.slice(0, w.ndeps)]).toEqual([8, 8, 8]);
    void CR0_PG; void CR0_PE; void CR0_WP; void CR4_PAE; void CR4_PGE; void CR4_PSE;
  });
});
