// describeWalk / mappedRanges: readable walks and range summaries, and no side effects.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeWalk, formatMappedRanges, mappedRanges } from '../../src/mmu/dump';
import { PhysMemory } from '../../src/mmu/physmem';
import { A, D, G, NXE, P, PS, RW, US, w64 } from './mmu-helpers';

const CR4_PSE = 0x10, CR4_PAE = 0x20;
const digest = (mem: PhysMemory) => createHash('sha1').update(mem.ram).digest('hex');

function mem32(): PhysMemory {
  const mem = new PhysMemory(8 << 20);
  mem.write32(0x10000, 0x11000 | P | RW | US | A);
  for (let k = 0; k < 16; k++) mem.write32(0x11000 + k * 4, (0x100000 + k * 0x1000) | P | RW | US); // 0-64K -> 1M
  mem.write32(0x11000 + 16 * 4, 0x200000 | P); // read-only, supervisor
  mem.write32(0x11000 + 17 * 4, 0x201000 | P | G | D | A);
  mem.write32(0x11000 + 20 * 4, 0x300000 | P | RW); // after a gap
  mem.write32(0x10004, 0x400000 | P | RW | PS); // 4 MiB page at 4 MiB
  mem.write32(0x10008, 0x400000 | 0x4000 | P | PS); // reserved bit 14
  mem.write32(0x1000c, 0xfee00000 | P | RW); // page table outside RAM
  return mem;
}

describe('describeWalk', () => {
  it('32-bit: every level with address, raw value, flags, then the physical address', () => {
    const mem = mem32();
    const lines = describeWalk(mem, 0x10000, CR4_PSE, 0, 0x11abc);
    expect(lines).toEqual([
      'linear 0x00011abc: 32-bit paging, CR3=0x00010000, PDE 0, PTE 17, offset 0xabc',
      '  PDE   @0x00010000 = 0x00011027  P RW US A  -> page table 0x00011000',
      '  PTE   @0x00011044 = 0x00201161  P RO S A D G  -> frame 0x00201000',
      '=> physical 0x00201abc (4 KiB page, read-only, supervisor-only)',
    ]);
    expect(describeWalk(mem, 0x10000, CR4_PSE, 0, 0x523456).at(-1)).toBe('=> physical 0x00523456 (4 MiB page, writable, supervisor-only)');
    expect(describeWalk(mem, 0x10000, CR4_PSE, 0, 0x12000).slice(-2)).toEqual([
      '  PTE   @0x00011048 = 0x00000000  not present',
      '=> #PF: PTE not present (error code 0x0 for a supervisor read; +0x2 for a write, +0x4 from CPL 3)',
    ]);
    expect(describeWalk(mem, 0x10000, CR4_PSE, 0, 0x800000).at(-1)).toMatch(/^=> #PF: reserved bits 0x00004000 set in a 4 MiB PDE \(error code 0x9/);
    expect(describeWalk(mem, 0x10000, CR4_PSE, 0, 0xc00000).at(-1)).toMatch(/not in RAM/);
    expect(describeWalk(mem, 0x10000, CR4_PSE, 0, 0x40000000).at(-1)).toMatch(/PDE not present/);
  });

  it('PAE: 8-byte entries, XD with NXE, 2 MiB pages, reserved bits', () => {
    const mem = new PhysMemory(8 << 20);
    w64(mem, 0x20000, 0x21000 | P);
    w64(mem, 0x21000, 0x22000 | P | RW | US);
    w64(mem, 0x22000 + 3 * 8, 0x150000 | P | RW | US | A | D, 0x80000000);
    w64(mem, 0x21000 + 8, 0x400000 | P | RW | PS);
    w64(mem, 0x22000 + 4 * 8, 0x160000 | P, 0x100);
    const lines = describeWalk(mem, 0x20000, CR4_PAE, NXE, 0x3010);
    expect(lines).toEqual([
      'linear 0x00003010: PAE paging (NXE), CR3=0x00020000, PDPTE 0, PDE 0, PTE 3, offset 0x010',
      '  PDPTE @0x00020000 = 0x00000000_00021001  P  -> page directory 0x00021000',
      '  PDE   @0x00021000 = 0x00000000_00022007  P RW US  -> page table 0x00022000',
      '  PTE   @0x00022018 = 0x80000000_00150067  P RW US A D XD  -> frame 0x00150000',
      '=> physical 0x00150010 (4 KiB page, writable, user, no-execute)',
    ]);
    expect(describeWalk(mem, 0x20000, CR4_PAE, 0, 0x3010).at(-1)).toMatch(/reserved bits set in the PTE \(error code 0x9/); // bit 63 without NXE
    expect(describeWalk(mem, 0x20000, CR4_PAE, NXE, 0x3abcde).at(-1)).toBe('=> physical 0x005abcde (2 MiB page, writable, supervisor-only, executable)');
    expect(describeWalk(mem, 0x20000, CR4_PAE, NXE, 0x4000).at(-1)).toMatch(/reserved bits set in the PTE/);
    expect(describeWalk(mem, 0x20000, CR4_PAE, NXE, 0x40000000).at(-1)).toMatch(/PDPTE not present \(error code 0x0/);
  });

  it('has no side effects: no A/D bits, no memory change', () => {
    const mem = mem32();
    const before = digest(mem);
    for (let lin = 0; lin < 0x1000000; lin += 0x3000) describeWalk(mem, 0x10000, CR4_PSE, 0, lin);
    mappedRanges(mem, 0x10000, CR4_PSE, 0);
    expect(digest(mem)).toBe(before);
  });
});

describe('mappedRanges', () => {
  it('32-bit: coalesces contiguous runs with equal rights, splits on gaps, rights and physical jumps', () => {
    const mem = mem32();
    const r = mappedRanges(mem, 0x10000, CR4_PSE, 0);
    expect(r).toEqual([
      { lin: 0, size: 0x10000, phys: 0x100000, writable: true, user: true, executable: true, global: false },
      { lin: 0x10000, size: 0x1000, phys: 0x200000, writable: false, user: false, executable: true, global: false },
      { lin: 0x11000, size: 0x1000, phys: 0x201000, writable: false, user: false, executable: true, global: true },
      { lin: 0x14000, size: 0x1000, phys: 0x300000, writable: true, user: false, executable: true, global: false },
      { lin: 0x400000, size: 0x400000, phys: 0x400000, writable: true, user: false, executable: true, global: false },
    ]);
    expect(formatMappedRanges(r)[0]).toBe('0x00000000-0x0000ffff -> 0x00100000  rwx user  (64 KiB)');
    expect(formatMappedRanges(r)[4]).toBe('0x00400000-0x007fffff -> 0x00400000  rwx supervisor  (4 MiB)');
    // Without PSE the PS bit is ignored: PDE 1 is a page table (at 0x400000, all zero here).
    expect(mappedRanges(mem, 0x10000, 0, 0).map((x) => x.lin)).toEqual([0, 0x10000, 0x11000, 0x14000]);
  });

  it('PAE: XD splits runs; a 2 MiB page; reserved entries left out', () => {
    const mem = new PhysMemory(8 << 20);
    w64(mem, 0x20000, 0x21000 | P);
    w64(mem, 0x21000, 0x22000 | P | RW | US);
    for (let k = 0; k < 4; k++) w64(mem, 0x22000 + k * 8, (0x100000 + k * 0x1000) | P | RW, k >= 2 ? 0x80000000 : 0);
    w64(mem, 0x22000 + 4 * 8, 0x104000 | P | RW, 0x10); // reserved
    w64(mem, 0x21000 + 8, 0x600000 | P | PS | US);
    const r = mappedRanges(mem, 0x20000, CR4_PAE, NXE);
    expect(r.map((x) => [x.lin, x.size, x.phys, x.executable, x.user])).toEqual([
      [0, 0x2000, 0x100000, true, false],
      [0x2000, 0x2000, 0x102000, false, false],
      [0x200000, 0x200000, 0x600000, true, true],
    ]);
    // Without NXE, bit 63 is reserved: those two pages disappear.
    expect(mappedRanges(mem, 0x20000, CR4_PAE, 0).map((x) => x.lin)).toEqual([0, 0x200000]);
  });
});
