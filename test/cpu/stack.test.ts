// Stack instructions: PUSH/POP forms, PUSHA/POPA (16/32), PUSHF/POPF, ENTER (levels 0, 1, 3) and LEAVE.
import { describe, expect, it } from 'vitest';
import { Harness, STACK_TOP, DATA, SEL_DATA32, CODE } from '../helpers/cpu-harness';
import { CF, ZF, SF, OF, DF, IF, TF, EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI, AC, GP, SS_, SS, DS, AR_P, AR_S, AR_DB } from '../../src/cpu/consts';

describe('PUSH / POP', () => {
  const h = new Harness().flat32([0xf4]);
  it('push esp pushes the value before the decrement; pop esp loads the popped value', () => {
    h.exec([0x54]);
    expect(h.esp).toBe(STACK_TOP - 4);
    expect(h.r32(STACK_TOP - 4)).toBe(STACK_TOP);
    h.w32(STACK_TOP - 8, 0x12345);
    h.prepare([0x5c]);
    h.cpu.r32[ESP] = STACK_TOP - 8;
    h.runToHalt();
    expect(h.esp).toBe(0x12345);
  });
  it('pop [esp+4] computes the address after ESP is incremented', () => {
    h.w32(STACK_TOP - 8, 0xaaaa5555);
    h.w32(STACK_TOP - 4, 0);
    h.w32(STACK_TOP, 0);
    h.prepare([0x8f, 0x44, 0x24, 0x00]); // pop dword [esp+0]
    h.cpu.r32[ESP] = STACK_TOP - 8;
    h.runToHalt();
    expect(h.esp).toBe(STACK_TOP - 4);
    expect(h.r32(STACK_TOP - 4)).toBe(0xaaaa5555);
  });
  it('push imm8 is sign-extended to the operand size; 66 push is 2 bytes', () => {
    h.exec([0x6a, 0xff, 0x66, 0x6a, 0x80, 0x68, 0x78, 0x56, 0x34, 0x12]);
    expect(h.esp).toBe(STACK_TOP - 10);
    expect(h.r32(STACK_TOP - 4)).toBe(0xffffffff);
    expect(h.r16(STACK_TOP - 6)).toBe(0xff80);
    expect(h.r32(STACK_TOP - 10)).toBe(0x12345678);
  });
  it('push fs with a 32-bit operand moves ESP by 4 and stores the selector in the low word', () => {
    h.w32(STACK_TOP - 4, 0xdddddddd);
    h.exec([0x0f, 0xa0]);
    expect(h.esp).toBe(STACK_TOP - 4);
    expect(h.r16(STACK_TOP - 4)).toBe(SEL_DATA32);
  });
  it('push/pop r/m32 and r16', () => {
    h.w32(DATA, 0xcafebabe);
    h.exec([0xff, 0x33, 0x5a, 0x66, 0x51, 0x66, 0x5e], { [EBX]: DATA, [ECX]: 0x1234abcd, [ESI]: 0xffff0000 }); // push [ebx]; pop edx; push cx; pop si
    expect(h.edx).toBe(0xcafebabe);
    expect(h.esi).toBe(0xffffabcd);
    expect(h.esp).toBe(STACK_TOP);
  });
});

describe('stack faults leave ESP unchanged', () => {
  it('pop dword [ebx] with a destination beyond the DS limit: #GP(0), ESP restored', () => {
    const h = new Harness().flat32([0xf4]);
    h.setSeg(DS, 0, 0xfffff);
    h.w32(STACK_TOP - 4, 0x1234);
    h.prepare([0x8f, 0x03], { [EBX]: 0x100000 });
    h.cpu.r32[ESP] = STACK_TOP - 4;
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.err).toBe(0);
    expect(f.eip).toBe(CODE);
    // The handler's frame sits just below the original ESP: ESP was not advanced by the POP.
    expect(h.esp).toBe(STACK_TOP - 4 - 16);
  });
  it('pop eax reading past the SS limit: #SS(0), EAX and ESP unchanged', () => {
    const h = new Harness().flat32([0xf4]);
    h.setSeg(SS, 0, 0x8ffff, AR_P | AR_S | 0x03 | AR_DB);
    h.prepare([0x58], { [EAX]: 0x5555 });
    h.cpu.r32[ESP] = 0x8fffe;
    const f = h.runToFault();
    expect(f.vector).toBe(SS_);
    expect(f.err).toBe(0);
    expect(f.eip).toBe(CODE);
    expect(h.esp).toBe(0x8fffe - 16);
    expect(h.eax).toBe(0x5555);
  });
  it('ret with the return address beyond the SS limit: #SS(0)', () => {
    const h = new Harness().flat32([0xf4]);
    h.setSeg(SS, 0, 0x8ffff, AR_P | AR_S | 0x03 | AR_DB);
    h.prepare([0xc3]);
    h.cpu.r32[ESP] = 0x8fffd;
    expect(h.runToFault().vector).toBe(SS_);
  });
});

describe('PUSHA / POPA', () => {
  const h = new Harness().flat32([0xf4]);
  const vals = { [EAX]: 0x11111111, [ECX]: 0x22222222, [EDX]: 0x33333333, [EBX]: 0x44444444, [EBP]: 0x66666666, [ESI]: 0x77777777, [EDI]: 0x88888888 };
  it('pushad stores EAX ECX EDX EBX ESP(original) EBP ESI EDI; popad restores all but ESP', () => {
    h.exec([0x60], vals);
    expect(h.esp).toBe(STACK_TOP - 32);
    const order = [0x11111111, 0x22222222, 0x33333333, 0x44444444, STACK_TOP, 0x66666666, 0x77777777, 0x88888888];
    order.forEach((v, k) => expect(h.r32(STACK_TOP - 4 * (k + 1)), `slot ${k}`).toBe(v));
    h.w32(STACK_TOP - 20, 0xdead); // the ESP slot is ignored by POPAD
    h.prepare([0x61]);
    h.cpu.r32[ESP] = STACK_TOP - 32;
    h.runToHalt();
    expect([h.eax, h.ecx, h.edx, h.ebx, h.esp, h.ebp, h.esi, h.edi]).toEqual([...order.slice(0, 4), STACK_TOP, ...order.slice(5)]);
  });
  it('pusha / popa (16-bit) touch only the low words', () => {
    h.exec([0x66, 0x60], vals);
    expect(h.esp).toBe(STACK_TOP - 16);
    const order = [0x1111, 0x2222, 0x3333, 0x4444, STACK_TOP & 0xffff, 0x6666, 0x7777, 0x8888];
    order.forEach((v, k) => expect(h.r16(STACK_TOP - 2 * (k + 1)), `slot ${k}`).toBe(v));
    for (let k = 0; k < 8; k++) h.w16(STACK_TOP - 2 * (k + 1), 0xa000 + k);
    h.prepare([0x66, 0x61], { [EAX]: 0xffffffff, [EDI]: 0xeeeeeeee });
    h.cpu.r32[ESP] = STACK_TOP - 16;
    h.runToHalt();
    expect(h.eax).toBe(0xffffa000);
    expect(h.edi).toBe(0xeeeea007);
    expect(h.esp).toBe(STACK_TOP);
  });
});

describe('PUSHF / POPF', () => {
  const h = new Harness().flat32([0xf4]);
  it('pushfd reflects lazily computed arithmetic flags', () => {
    h.exec([0x83, 0xc0, 0x01, 0x9c], { [EAX]: 0x7fffffff }); // add eax,1 ; pushfd
    const f = h.r32(STACK_TOP - 4);
    expect(f & (OF | SF | ZF | CF)).toBe(OF | SF);
    expect(f & 2).toBe(2);
    expect(f & (1 << 16 | 1 << 17)).toBe(0); // RF, VM never pushed
  });
  it('popfd at CPL 0 loads arithmetic flags, DF, IF, AC; popf (16) keeps the upper half', () => {
    h.w32(STACK_TOP - 4, CF | ZF | DF | IF | AC | OF);
    h.prepare([0x9d]);
    h.cpu.r32[ESP] = STACK_TOP - 4;
    h.runToHalt();
    expect(h.eflags & (CF | ZF | DF | IF | AC | OF | SF)).toBe(CF | ZF | DF | IF | AC | OF);
    h.w16(STACK_TOP - 2, SF);
    h.prepare([0x66, 0x9d], {}, AC | CF);
    h.cpu.r32[ESP] = STACK_TOP - 2;
    h.runToHalt();
    expect(h.eflags & (AC | CF | SF)).toBe(AC | SF);
    expect(h.esp).toBe(STACK_TOP);
  });
  it('popf can set TF: a #DB trap follows the next instruction', () => {
    h.w32(STACK_TOP - 4, TF);
    h.prepare([0x9d, 0x90, 0x90]);
    h.cpu.r32[ESP] = STACK_TOP - 4;
    const f = h.runToFault();
    expect(f.vector).toBe(1);
  });
});

describe('ENTER / LEAVE', () => {
  const h = new Harness().flat32([0xf4]);
  it('enter 16, 0 then leave', () => {
    h.exec([0xc8, 0x10, 0x00, 0x00], { [EBP]: 0xabcd });
    expect(h.r32(STACK_TOP - 4)).toBe(0xabcd);
    expect(h.ebp).toBe(STACK_TOP - 4);
    expect(h.esp).toBe(STACK_TOP - 4 - 16);
    h.prepare([0xc9]);
    h.cpu.r32[ESP] = STACK_TOP - 20;
    h.cpu.r32[EBP] = STACK_TOP - 4;
    h.runToHalt();
    expect(h.esp).toBe(STACK_TOP);
    expect(h.ebp).toBe(0xabcd);
  });
  it('enter 8, 1 pushes the frame pointer twice', () => {
    h.exec([0xc8, 0x08, 0x00, 0x01], { [EBP]: 0x7000 });
    expect(h.r32(STACK_TOP - 4)).toBe(0x7000);
    expect(h.r32(STACK_TOP - 8)).toBe(STACK_TOP - 4);
    expect(h.ebp).toBe(STACK_TOP - 4);
    expect(h.esp).toBe(STACK_TOP - 8 - 8);
  });
  it('enter 0x20, 3 copies two outer frame pointers from [ebp-4], [ebp-8]', () => {
    h.w32(0x7000 - 4, 0xa1a1a1a1);
    h.w32(0x7000 - 8, 0xb2b2b2b2);
    h.w32(0x7000 - 12, 0xc3c3c3c3);
    h.exec([0xc8, 0x20, 0x00, 0x03], { [EBP]: 0x7000 });
    expect(h.r32(STACK_TOP - 4)).toBe(0x7000);
    expect(h.r32(STACK_TOP - 8)).toBe(0xa1a1a1a1);
    expect(h.r32(STACK_TOP - 12)).toBe(0xb2b2b2b2);
    expect(h.r32(STACK_TOP - 16)).toBe(STACK_TOP - 4);
    expect(h.ebp).toBe(STACK_TOP - 4);
    expect(h.esp).toBe(STACK_TOP - 16 - 0x20);
  });
  it('16-bit enter (66 C8) with level 3 on a 32-bit stack', () => {
    h.w16(0x7000 - 2, 0xa1a1);
    h.w16(0x7000 - 4, 0xb2b2);
    h.exec([0x66, 0xc8, 0x04, 0x00, 0x03], { [EBP]: 0x7000 });
    // With a 32-bit stack the outer frame pointers are read at EBP-2, EBP-4 (full EBP); BP := low word of FrameTemp
    expect(h.r16(STACK_TOP - 2)).toBe(0x7000);
    expect(h.r16(STACK_TOP - 4)).toBe(0xa1a1);
    expect(h.r16(STACK_TOP - 6)).toBe(0xb2b2);
    expect(h.r16(STACK_TOP - 8)).toBe((STACK_TOP - 2) & 0xffff);
    expect(h.ebp).toBe((STACK_TOP - 2) & 0xffff);
    expect(h.esp).toBe(STACK_TOP - 8 - 4);
  });
  it('leave with a 16-bit operand pops BP only', () => {
    h.w16(0x8000, 0x4321);
    h.exec([0x66, 0xc9], { [EBP]: 0x8000 });
    expect(h.esp).toBe(0x8002);
    expect(h.ebp).toBe(0x4321);
  });
});

