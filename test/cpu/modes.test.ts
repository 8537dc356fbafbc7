// Operand/address-size defaults and prefixes in 16-bit protected-mode code and in real mode,
// and INT n / INT3 / INTO / IRET through 32-bit gates and through the real-mode IVT.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, STACK_TOP, IDT_BASE, SEL_CODE32, SEL_CODE16, REAL_CS } from '../helpers/cpu-harness';
import { CS, EAX, ECX, EBX, ESP, IF, CF, OF, TF, GP, AR_P, AR_S } from '../../src/cpu/consts';

/** Runs `code` in a 16-bit code segment based at CODE (offset 0), 32-bit flat data and stack. */
function code16(code: number[], regs: Partial<Record<number, number>> = {}): Harness {
  const h = new Harness().flat32([0xf4]);
  h.prepare([]);
  h.load(CODE, [...code, 0xf4]);
  h.regs(regs);
  h.cpu.setSegCache(CS, SEL_CODE16, CODE, 0xffff, AR_P | AR_S | 0x0b);
  h.cpu.eip = 0;
  return h;
}

describe('16-bit protected-mode code segment', () => {
  it('defaults to 16-bit operands and addresses; 66 and 67 select 32-bit', () => {
    const h = code16([0x01, 0xc8, 0x66, 0x01, 0xd3, 0x8b, 0x37, 0x67, 0x8b, 0x3c, 0x4b], { [EAX]: 0x1_ffff, [ECX]: 0x1_0001, [EBX]: 0x1_0000, 2: 0x2_0000 });
    // add ax, cx ; add ebx, edx ; mov si, [bx] ; mov di, [ebx+ecx*2]
    h.w16(0x0000, 0x3333); // [bx]: BX is the low word of EBX = 0x30000, i.e. 0
    h.w32(0x30000 + 2 * 0x10001, 0x2222);
    h.runToHalt();
    expect(h.eax).toBe(0x1_0000);
    expect(h.ebx).toBe(0x3_0000);
    expect(h.esi & 0xffff).toBe(0x3333);
    expect(h.edi & 0xffff).toBe(0x2222);
    expect(h.cpu.eip).toBe(12);
  });
  it('push/call use 16-bit slots by default, 32-bit with 66', () => {
    const h = code16([0x50, 0x66, 0x53, 0xe8, 0x00, 0x00, 0x66, 0xe8, 0x00, 0x00, 0x00, 0x00], { [EAX]: 0xaaaa_bbbb, [EBX]: 0xcccc_dddd });
    h.runToHalt();
    expect(h.esp).toBe(STACK_TOP - 2 - 4 - 2 - 4);
    expect(h.r16(STACK_TOP - 2)).toBe(0xbbbb);
    expect(h.r32(STACK_TOP - 6)).toBe(0xcccc_dddd);
    expect(h.r16(STACK_TOP - 8)).toBe(6);
    expect(h.r32(STACK_TOP - 12)).toBe(12);
  });
  it('a fault in 16-bit code pushes CS=0x18 and the 16-bit offset through a 32-bit gate', () => {
    const h = code16([0x90, 0x0f, 0x0b]);
    const f = h.runToFault();
    expect(f.vector).toBe(6);
    expect(f.cs).toBe(SEL_CODE16);
    expect(f.eip).toBe(1);
  });
});

describe('real mode', () => {
  it('an effective address above FFFFh (67 prefix) is #GP through the IVT', () => {
    const h = new Harness().real([0x67, 0x8b, 0x03], 0x100);
    h.cpu.r32[EBX] = 0x10000;
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.eip).toBe(0x100);
    expect(f.cs).toBe(REAL_CS);
  });
  it('INT n / IRET round trip: handler sees IF=0 TF=0, IRET restores FLAGS', () => {
    const h = new Harness().real([0xcd, 0x21, 0xf4], 0x100);
    h.load(0x500, [0x9c, 0x5b, 0x40, 0xcf]); // pushf ; pop bx ; inc ax ; iret
    h.w16(0x21 * 4, 0x500);
    h.w16(0x21 * 4 + 2, 0);
    h.cpu.setEflags(2 | IF | CF);
    h.runToHalt();
    expect(h.eax & 0xffff).toBe(1);
    expect(h.ebx & (IF | TF)).toBe(0);
    expect(h.ebx & CF).toBe(CF);
    expect(h.eflags & (IF | CF)).toBe(IF | CF);
    expect(h.cpu.segSel[CS]).toBe(REAL_CS);
    expect(h.cpu.eip).toBe(0x103);
    expect(h.cpu.r16[ESP << 1]).toBe(0xfff0);
  });
  it('32-bit operand IRETD in real mode pops 12 bytes', () => {
    const h = new Harness().real([0x66, 0xcf], 0x100);
    h.w32(0xfff0, 0x200);
    h.w32(0xfff4, REAL_CS);
    h.w32(0xfff8, 2 | CF);
    h.load(REAL_CS * 16 + 0x200, [0xf4]);
    h.runToHalt();
    expect(h.cpu.r16[ESP << 1]).toBe(0xfffc);
    expect(h.eflags & CF).toBe(CF);
    expect(h.cpu.eip).toBe(0x201);
  });
});

describe('protected-mode INT n / INT3 / INTO / IRETD through 32-bit gates', () => {
  function gate(h: Harness, vec: number, handler: number, type = 0xe): void {
    h.w32(IDT_BASE + 8 * vec, ((SEL_CODE32 << 16) | (handler & 0xffff)) >>> 0);
    h.w32(IDT_BASE + 8 * vec + 4, ((handler & 0xffff0000) | 0x8000 | (type << 8)) >>> 0);
  }
  it('int 0x80 through an interrupt gate clears IF in the handler; iretd restores it', () => {
    const h = new Harness().flat32([0xf4]);
    h.load(0x3000, [0x9c, 0x5b, 0x40, 0xcf]); // pushfd ; pop ebx ; inc eax ; iretd
    gate(h, 0x80, 0x3000);
    h.exec([0xcd, 0x80], {}, IF | CF);
    expect(h.eax).toBe(1);
    expect(h.ebx & IF).toBe(0);
    expect(h.eflags & (IF | CF)).toBe(IF | CF);
    expect(h.esp).toBe(STACK_TOP);
    expect(h.cpu.eip).toBe(CODE + 3);
  });
  it('a trap gate keeps IF', () => {
    const h = new Harness().flat32([0xf4]);
    h.load(0x3000, [0x9c, 0x5b, 0xcf]);
    gate(h, 0x81, 0x3000, 0xf);
    h.exec([0xcd, 0x81], {}, IF);
    expect(h.ebx & IF).toBe(IF);
  });
  it('int3 and into push the address of the next instruction', () => {
    const h = new Harness().flat32([0xf4]);
    h.prepare([0x90, 0xcc]);
    let f = h.runToFault();
    expect(f.vector).toBe(3);
    expect(f.eip).toBe(CODE + 2);
    h.prepare([0xce]); // into with OF=0: nothing
    h.runToHalt();
    h.prepare([0xce], {}, OF);
    f = h.runToFault();
    expect(f.vector).toBe(4);
    expect(f.eip).toBe(CODE + 1);
  });
  it('int n beyond the IDT limit is #GP(vector*8+2)', () => {
    const h = new Harness().flat32([0xf4]);
    h.cpu.idtr = { base: IDT_BASE, limit: 0x20 * 8 - 1 };
    h.prepare([0xcd, 0x40]);
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.err).toBe(0x40 * 8 + 2);
    expect(f.eip).toBe(CODE);
  });
});
