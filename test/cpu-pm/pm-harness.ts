// A minimal protected-mode machine built directly in memory for exception tests:
// GDT at 0x1000, IDT at 0x1800 (32 interrupt gates), TSS at 0x2000, handlers at 0x3000,
// code at 0x10000. Each handler stores its vector at [0x500] and the dword at the top of
// its stack (the error code, when there is one) at [0x504], then halts.
import { Cpu } from '../../src/cpu/cpu';
import { PhysMemory } from '../../src/mmu/physmem';
import { AR_DB, AR_G, AR_P, AR_S, CS, SS } from '../../src/cpu/consts';

export const CODE = 0x10000;
export const VEC = 0x500, ERR = 0x504;

export function desc(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

export function makePmCpu(code: number[], opts: { ramMiB?: number } = {}): Cpu {
  const mem = new PhysMemory((opts.ramMiB ?? 4) << 20);
  const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} });
  const gdt: [number, number][] = [
    [0, 0],
    desc(0, 0xfffff, 0x9a, 0xc), // 0x08 code0
    desc(0, 0xfffff, 0x92, 0xc), // 0x10 data0
    desc(0, 0xfffff, 0xfa, 0xc), // 0x18 code3
    desc(0, 0xfffff, 0xf2, 0xc), // 0x20 data3
    desc(0x2000, 0x67, 0x89, 0), // 0x28 TSS
    desc(0x2100, 0x20, 0x89, 0), // 0x30 TSS too small
    desc(0, 0xfff, 0x92, 0x4), // 0x38 small data/stack, limit 0xfff, B=1
    desc(0, 0xfff, 0xf2, 0x4), // 0x40 the same at DPL 3
  ];
  gdt.forEach(([lo, hi], k) => { mem.write32(0x1000 + k * 8, lo); mem.write32(0x1004 + k * 8, hi); });
  for (let v = 0; v < 32; v++) {
    const h = 0x3000 + v * 32;
    mem.write32(0x1800 + v * 8, (0x08 << 16) | (h & 0xffff));
    mem.write32(0x1804 + v * 8, (h & 0xffff0000) | 0x8e00);
    mem.ram.set([0xc7, 0x05, 0x00, 0x05, 0x00, 0x00, v, 0, 0, 0, 0x8b, 0x04, 0x24, 0xa3, 0x04, 0x05, 0x00, 0x00, 0xf4], h);
  }
  mem.write32(0x2004, 0x9000); // esp0
  mem.write32(0x2008, 0x10); // ss0
  mem.ram.set(code, CODE);
  cpu.setupFlat32(CODE, 0x08, 0x10);
  cpu.gdtr = { base: 0x1000, limit: gdt.length * 8 - 1 };
  cpu.idtr = { base: 0x1800, limit: 32 * 8 - 1 };
  cpu.trSel = 0x28;
  cpu.tr = { base: 0x2000, limit: 0x67, ar: 0x8b };
  cpu.r32[4] = 0x8000;
  mem.write32(VEC, 0xffffffff);
  return cpu;
}

/** Switches the running CPU to CPL 3 (flat user code and data). */
export function toRing3(cpu: Cpu): void {
  cpu.setSegCache(CS, 0x1b, 0, 0xffffffff, AR_P | AR_S | 0x0b | 0x60 | AR_DB | AR_G);
  cpu.setSegCache(SS, 0x23, 0, 0xffffffff, AR_P | AR_S | 0x03 | 0x60 | AR_DB | AR_G);
  for (const s of [0, 3, 4, 5]) cpu.setSegCache(s, 0x23, 0, 0xffffffff, AR_P | AR_S | 0x03 | 0x60 | AR_DB | AR_G);
  cpu.r32[4] = 0x7000;
}

/** Maps linear = physical for the first 4 MiB with 4 KiB pages; returns the PTE address helper. */
export function identityPaging(cpu: Cpu, pd = 0x100000, pt = 0x101000): (lin: number) => number {
  const m = cpu.mem;
  for (let k = 0; k < 1024; k++) m.write32(pt + k * 4, (k << 12) | 0x7);
  m.write32(pd, pt | 0x7);
  cpu.cr3 = pd;
  cpu.cr0 |= 0x80000000;
  cpu.pagingChanged();
  return (lin: number) => pt + (lin >>> 12) * 4;
}
