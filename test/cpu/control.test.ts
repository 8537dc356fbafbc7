// Near control transfers: LOOP/LOOPE/LOOPNE/JCXZ/JECXZ at both address sizes, CALL/RET/JMP
// (relative, register, memory), and 16-bit operand-size truncation of EIP.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, STACK_TOP, DATA, le32 } from '../helpers/cpu-harness';
import { ZF, ECX, EBX, GP } from '../../src/cpu/consts';

describe('LOOP family', () => {
  const h = new Harness().flat32([0xf4]);
  it('loop counts ECX down to zero', () => {
    h.exec([0x40, 0xe2, 0xfd], { [ECX]: 5 }); // l: inc eax ; loop l
    expect(h.eax).toBe(5);
    expect(h.ecx).toBe(0);
    h.exec([0x40, 0xe2, 0xfd], { [ECX]: 1 });
    expect(h.eax).toBe(1);
    expect(h.ecx).toBe(0);
  });
  it('67 loop uses CX and keeps the upper half of ECX', () => {
    h.exec([0x40, 0x67, 0xe2, 0xfc], { [ECX]: 0x1234_0003 });
    expect(h.eax).toBe(3);
    expect(h.ecx).toBe(0x1234_0000);
  });
  it('loope / loopne stop on ZF as well as on the count (flags untouched by LOOP)', () => {
    h.exec([0xe1, 0xfe], { [ECX]: 5 }, ZF); // loope $
    expect(h.ecx).toBe(0);
    h.exec([0xe1, 0xfe], { [ECX]: 5 }, 0);
    expect(h.ecx).toBe(4);
    h.exec([0xe0, 0xfe], { [ECX]: 5 }, 0); // loopne $
    expect(h.ecx).toBe(0);
    expect(h.eflags & ZF).toBe(0);
    h.exec([0xe0, 0xfe], { [ECX]: 5 }, ZF);
    expect(h.ecx).toBe(4);
    // loopne driven by the body: scan for a zero byte
    h.w32(DATA, 0x00_03_02_01);
    h.exec([0x46, 0x80, 0x7e, 0xff, 0x00, 0xe0, 0xf9], { 6: DATA, [ECX]: 100 });
    // l: inc esi ; cmp byte [esi-1], 0 ; loopne l
    expect(h.esi).toBe(DATA + 4);
    expect(h.ecx).toBe(96);
  });
  it('jecxz / jcxz test the address-size counter', () => {
    h.exec([0xe3, 0x01, 0x40], { [ECX]: 0 });
    expect(h.eax).toBe(0);
    h.exec([0xe3, 0x01, 0x40], { [ECX]: 0x10000 });
    expect(h.eax).toBe(1);
    h.exec([0x67, 0xe3, 0x01, 0x40], { [ECX]: 0x10000 }); // jcxz: CX = 0
    expect(h.eax).toBe(0);
    h.exec([0x67, 0xe3, 0x01, 0x40], { [ECX]: 1 });
    expect(h.eax).toBe(1);
  });
});

describe('CALL / RET / JMP', () => {
  const h = new Harness().flat32([0xf4]);
  it('call rel32 pushes the return address; ret imm16 releases arguments', () => {
    // call +3 ; hlt ; (pad) ; target: mov eax, 1 ; ret 8
    h.prepare([0xe8, 0x01, 0x00, 0x00, 0x00, 0xf4, 0xb8, ...le32(1), 0xc2, 0x08, 0x00]);
    h.cpu.r32[4] = STACK_TOP - 8;
    h.runToHalt();
    expect(h.eax).toBe(1);
    expect(h.cpu.eip).toBe(CODE + 6);
    expect(h.r32(STACK_TOP - 12)).toBe(CODE + 5);
    expect(h.esp).toBe(STACK_TOP); // -8 start, -4 call, +4+8 ret 8
  });
  it('call reg, call [mem], jmp reg', () => {
    const t = CODE + 0x40;
    h.load(t, [0x40, 0xc3]); // inc eax ; ret
    h.w32(DATA, t);
    h.load(CODE + 0x50, [0xf4]);
    h.exec([0xff, 0xd1, 0xff, 0x13, 0xff, 0xe6, 0xf4], { [ECX]: t, [EBX]: DATA, 6: CODE + 0x50 });
    expect(h.eax).toBe(2);
    expect(h.cpu.eip).toBe(CODE + 0x51); // halted at the jmp target
    expect(h.esp).toBe(STACK_TOP);
  });
  it('16-bit operand size truncates the target EIP to 16 bits', () => {
    h.prepare([0x66, 0xeb, 0x00]); // jmp short +0 with o16: EIP = (0x10003) & 0xffff = 3
    h.load(0x0003, [0x40, 0xf4]);
    h.runToHalt();
    expect(h.eax).toBe(1);
    expect(h.cpu.eip).toBe(5);
  });
  it('a jump beyond the CS limit is #GP(0) at the jump', () => {
    h.setSeg(1, 0, 0x1ffff, 0x80 | 0x10 | 0x0b | 0x4000, 0x08);
    h.prepare([0xe9, ...le32(0x20000)]);
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.err).toBe(0);
    expect(f.eip).toBe(CODE);
    h.setSeg(1, 0, 0xffffffff, 0x80 | 0x10 | 0x0b | 0x4000, 0x08);
  });
});

describe('LOOP to a target beyond the CS limit', () => {
  // #GP(0) is a fault: ECX keeps its value (SDM Vol.3A §6.5). Found by the KVM lockstep harness.
  it('faults with ECX unchanged', () => {
    const h = new Harness().flat32([0xf4]);
    h.cpu.setSegCache(1, 0x08, 0, CODE + 0x10, 0x80 | 0x10 | 0x0b | 0x4000);
    h.prepare([0xe2, 0x7f], { [ECX]: 5 }); // loop +0x7f: beyond the limit
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(h.ecx).toBe(5);
  });
});
