// Segment register loads from instructions in protected mode, through the harness's real GDT:
// MOV Sreg, POP Sreg, LDS/LES/LFS/LGS/LSS with 16- and 32-bit offsets, and their #GP/#SS checks
// (SDM Vol.2A LDS/LES/LFS/LGS/LSS, MOV; Vol.3A §5.10). A faulting load changes nothing.
import { beforeEach, describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, STACK_TOP, SEL_DATA32, SEL_DATA16, SEL_CODE32, SEL_CODE16 } from '../helpers/cpu-harness';
import { EAX, EBX, ECX, ESP, DS, ES, FS, GS, SS, GP } from '../../src/cpu/consts';

function flatData(h: Harness): void {
  for (const sg of [DS, ES, FS, GS, SS]) h.setSeg(sg, 0, 0xffffffff);
}

describe('far pointer loads', () => {
  const h = new Harness().flat32([0xf4]);
  beforeEach(() => flatData(h));
  const cases = [
    ['lds', [0xc5], DS], ['les', [0xc4], ES], ['lfs', [0x0f, 0xb4], FS], ['lgs', [0x0f, 0xb5], GS],
  ] as const;
  for (const [name, op, seg] of cases) {
    it(`${name} r32, m16:32 and r16, m16:16`, () => {
      h.w32(DATA, 0x12345678);
      h.w16(DATA + 4, SEL_DATA16);
      h.exec([...op, 0x0b], { [EBX]: DATA }); // l?s ecx, [ebx]
      expect(h.ecx).toBe(0x12345678);
      expect(h.cpu.segSel[seg]).toBe(SEL_DATA16);
      expect(h.cpu.segLimit[seg]).toBe(0xffff);
      // (below 64 KiB: after LDS, DS is the 16-bit data segment)
      h.w16(0x8000, 0xbeef);
      h.w16(0x8002, SEL_DATA32);
      h.exec([0x66, ...op, 0x4b, 0x08], { [EBX]: 0x8000 - 8, [ECX]: 0xaaaa0000 }); // l?s cx, [ebx+8]
      expect(h.ecx).toBe(0xaaaabeef);
      expect(h.cpu.segSel[seg]).toBe(SEL_DATA32);
      expect(h.cpu.segLimit[seg]).toBe(0xffffffff);
    });
  }
  it('lss esp, m16:32 switches the stack in one instruction', () => {
    h.w32(DATA, 0x7000);
    h.w16(DATA + 4, SEL_DATA32);
    h.exec([0x0f, 0xb2, 0x23, 0x50], { [EBX]: DATA, [EAX]: 0x99 }); // lss esp, [ebx] ; push eax
    expect(h.esp).toBe(0x7000 - 4);
    expect(h.r32(0x7000 - 4)).toBe(0x99);
  });
  it('a selector beyond the GDT limit is #GP(selector) and the destination register is unchanged', () => {
    h.w32(DATA, 0x11111111);
    h.w16(DATA + 4, 0x0100);
    h.prepare([0xc5, 0x0b], { [EBX]: DATA, [ECX]: 0x5a5a5a5a });
    const f = h.runToFault();
    expect([f.vector, f.err, f.eip]).toEqual([GP, 0x0100, CODE]);
    expect(h.ecx).toBe(0x5a5a5a5a);
    expect(h.cpu.segSel[DS]).toBe(SEL_DATA32);
  });
  it('a code segment into SS, or a null selector into SS, is #GP', () => {
    h.w32(DATA, 0x1000);
    h.w16(DATA + 4, SEL_CODE32);
    h.prepare([0x0f, 0xb2, 0x23], { [EBX]: DATA });
    let f = h.runToFault();
    expect([f.vector, f.err]).toEqual([GP, SEL_CODE32]);
    expect(h.cpu.segSel[SS]).toBe(SEL_DATA32);
    h.w16(DATA + 4, 0);
    h.prepare([0x0f, 0xb2, 0x23], { [EBX]: DATA });
    f = h.runToFault();
    expect([f.vector, f.err]).toEqual([GP, 0]);
  });
});

describe('MOV Sreg / POP Sreg', () => {
  const h = new Harness().flat32([0xf4]);
  beforeEach(() => flatData(h));
  it('mov es, ax loads the descriptor; a null selector may be loaded into DS but using it faults', () => {
    h.exec([0x8e, 0xc0], { [EAX]: SEL_DATA16 });
    expect(h.cpu.segSel[ES]).toBe(SEL_DATA16);
    expect(h.cpu.segLimit[ES]).toBe(0xffff);
    h.prepare([0x8e, 0xd8, 0x8b, 0x0b], { [EAX]: 0, [EBX]: DATA }); // mov ds, ax ; mov ecx, [ebx]
    const f = h.runToFault();
    expect([f.vector, f.err, f.eip]).toEqual([GP, 0, CODE + 2]);
    expect(h.cpu.segSel[DS]).toBe(0);
    h.exec([0x8e, 0xd8], { [EAX]: SEL_DATA32 });
  });
  it('a readable code segment may be loaded into a data segment register', () => {
    h.exec([0x8e, 0xe0], { [EAX]: SEL_CODE16 }); // mov fs, ax: readable code is a valid data segment
    expect(h.cpu.segSel[FS]).toBe(SEL_CODE16);
    h.exec([0x8e, 0xe0], { [EAX]: SEL_DATA32 });
  });
  it('pop ds with a bad selector faults with ESP unchanged', () => {
    h.w32(STACK_TOP - 4, 0x0200);
    h.prepare([0x1f]);
    h.cpu.r32[ESP] = STACK_TOP - 4;
    const f = h.runToFault();
    expect([f.vector, f.err, f.eip]).toEqual([GP, 0x0200, CODE]);
    expect(h.r32(STACK_TOP - 4)).toBe(0x0200);
    expect(h.esp).toBe(STACK_TOP - 4 - 16); // the #GP frame (err, eip, cs, eflags) is just below it
  });
});
