import { describe, expect, it } from 'vitest';
import { Exit } from '../../src/cpu/interfaces';
import { CODE, ERR, VEC, identityPaging, makePmCpu, toRing3 } from './pm-harness';
import { Cpu } from '../../src/cpu/cpu';
import { PhysMemory } from '../../src/mmu/physmem';

describe('exception delivery', () => {
  it('a fault that cannot be delivered escalates to #DF, then to a triple fault (shutdown, not a crash)', () => {
    const mem = new PhysMemory(1 << 20);
    const cpu = new Cpu(mem, { ioRead: () => 0xff, ioWrite: () => {} });
    mem.ram.set([0xcc], 0x7c00); // int3 with an empty IVT limit
    cpu.setupReal(0, 0x7c00);
    cpu.idtr = { base: 0, limit: 0 };
    let reason = '';
    cpu.onShutdown = (why) => { reason = why; };
    expect(cpu.run(10)).toBe(Exit.Shutdown);
    expect(reason).toMatch(/triple fault/);
    expect(cpu.shutdownReason).toMatch(/triple fault/);
  });

  it('#DF is delivered with error code 0 when a contributory fault hits a not-present gate', () => {
    const cpu = makePmCpu([0x8e, 0xd8]); // mov ds, ax
    cpu.r32[0] = 0x1000; // selector beyond the GDT -> #GP(0x1000)
    cpu.mem.write8(0x1800 + 13 * 8 + 5, 0x0e); // #GP gate not present -> #NP while delivering -> #DF
    cpu.run(100);
    expect(cpu.mem.read32(VEC)).toBe(8);
    expect(cpu.mem.read32(ERR)).toBe(0);
  });

  it('IRET into virtual-8086 mode stops the run with a clear guest error', () => {
    const cpu = makePmCpu([0xcf]); // iretd
    const sp = cpu.r32[4];
    cpu.mem.write32(sp, 0x1234);
    cpu.mem.write32(sp + 4, 0x0008);
    cpu.mem.write32(sp + 8, 0x00020002); // VM
    expect(cpu.run(10)).toBe(Exit.GuestError);
    expect(cpu.guestError).toMatch(/virtual-8086 mode is not supported/);
    expect(cpu.eip).toBe(CODE); // nothing committed
  });

  it('#AC on a misaligned access at CPL 3 with CR0.AM and EFLAGS.AC, not otherwise', () => {
    const code = [0x8b, 0x05, 0x01, 0x60, 0x00, 0x00, 0xf4]; // mov eax, [0x6001]; hlt (at CPL3: #GP)
    const off = makePmCpu(code);
    toRing3(off);
    off.cr0 |= 1 << 18;
    off.run(10);
    expect(off.mem.read32(VEC)).toBe(13); // no #AC without EFLAGS.AC: the access works, then HLT #GPs
    const cpu = makePmCpu(code);
    toRing3(cpu);
    cpu.cr0 |= 1 << 18;
    cpu.setEflags(cpu.getEflags() | (1 << 18));
    cpu.run(10);
    expect(cpu.mem.read32(VEC)).toBe(17);
    expect(cpu.mem.read32(ERR)).toBe(0);
  });

  it('#TS with the selector when switching to a TSS below the minimum limit', () => {
    const cpu = makePmCpu([0xea, 0, 0, 0, 0, 0x30, 0x00]); // jmp far 0x30:0
    cpu.run(10);
    expect(cpu.mem.read32(VEC)).toBe(10);
    expect(cpu.mem.read32(ERR)).toBe(0x30);
  });

  it('#SS(0) when a push at CPL 3 leaves a small stack segment, with ESP unchanged', () => {
    const cpu = makePmCpu([0x8e, 0xd0, 0x50, 0xf4]); // mov ss, ax; push eax; hlt
    toRing3(cpu);
    cpu.r32[0] = 0x43; // small DPL3 stack segment, limit 0xfff
    cpu.r32[4] = 0x2000; // above the limit
    cpu.run(10);
    expect(cpu.mem.read32(VEC)).toBe(12);
    expect(cpu.mem.read32(ERR)).toBe(0);
    // The #SS frame on the ring-0 stack holds the user ESP as it was before the push.
    expect(cpu.mem.read32(cpu.r32[4] + 16)).toBe(0x2000);
  });

  it('a page-crossing store that faults on the second page writes nothing', () => {
    // mov dword [0x5ffe], 0x11223344
    const cpu = makePmCpu([0xc7, 0x05, 0xfe, 0x5f, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, 0xf4]);
    const pte = identityPaging(cpu);
    cpu.mem.write32(pte(0x6000), 0); // second page not present
    cpu.mem.write16(0x5ffe, 0xaaaa);
    cpu.run(10);
    expect(cpu.mem.read32(VEC)).toBe(14);
    expect(cpu.mem.read32(ERR)).toBe(2); // not present, write, supervisor
    expect(cpu.cr2).toBe(0x6000);
    expect(cpu.mem.read16(0x5ffe)).toBe(0xaaaa);
  });

  it('a fault mid-REP leaves ECX/ESI/EDI at the completed iterations and EIP at the instruction', () => {
    // rep movsb from 0x6000 to 0x4ff8, 16 bytes: the destination crosses into a not-present page at 0x5000.
    const cpu = makePmCpu([0xf3, 0xa4, 0xf4]);
    const pte = identityPaging(cpu);
    cpu.mem.write32(pte(0x5000), 0);
    for (let k = 0; k < 16; k++) cpu.mem.write8(0x6000 + k, k + 1);
    cpu.r32[1] = 16; cpu.r32[6] = 0x6000; cpu.r32[7] = 0x4ff8;
    cpu.run(200);
    expect(cpu.mem.read32(VEC)).toBe(14);
    expect(cpu.r32[1]).toBe(8);
    expect(cpu.r32[6]).toBe(0x6008);
    expect(cpu.r32[7]).toBe(0x5000);
    expect(cpu.cr2).toBe(0x5000);
    // The handler saw the error code on top; the pushed EIP above it is the REP MOVSB itself (restartable).
    expect(cpu.mem.read32(ERR)).toBe(2);
    expect(cpu.mem.read32(cpu.r32[4] + 4)).toBe(CODE);
    for (let k = 0; k < 8; k++) expect(cpu.mem.read8(0x4ff8 + k)).toBe(k + 1);
  });
});
