// Exceptions raised by instructions: #UD (UD2, undefined opcodes, invalid LOCK, register forms
// of memory-only instructions), #GP(0)/#SS(0) for segment limit and type violations, #GP(0)
// for instructions longer than 15 bytes, and delivery through the real-mode IVT.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, REAL_CS, le32, SEL_DATA32 } from '../helpers/cpu-harness';
import { CF, ZF, IF, TF, EAX, ECX, EBX, EBP, ESP, GP, UD, SS_, DE, DS, SS, CS, AR_P, AR_S, AR_DB, ES } from '../../src/cpu/consts';
import { Exit } from '../../src/cpu/interfaces';

function expectFault(h: Harness, code: number[], vector: number, err: number | null, regs: Partial<Record<number, number>> = {}): void {
  h.prepare(code, regs);
  const f = h.runToFault();
  const ctx = code.map((b) => b.toString(16).padStart(2, '0')).join(' ');
  expect(f.vector, ctx).toBe(vector);
  expect(f.err, ctx).toBe(err);
  expect(f.eip, `${ctx}: EIP at the faulting instruction`).toBe(CODE);
  expect(f.cs, ctx).toBe(0x08);
}

describe('#UD', () => {
  const h = new Harness().flat32([0xf4]);
  it('ud2, and the exception frame has no error code', () => {
    expectFault(h, [0x0f, 0x0b], UD, null);
    expect(h.esp).toBe(0x90000 - 12);
  });
  it('undefined opcodes and undefined group members', () => {
    const cases = [
      [0x0f, 0x04], [0x0f, 0x0a], [0x0f, 0x0f, 0xc0, 0x00], [0x0f, 0xff, 0xc0], [0x0f, 0xb9, 0xc0], [0x0f, 0x38, 0x00, 0xc0],
      [0xfe, 0xd0], [0xfe, 0xf8], [0xff, 0xf8], [0x8f, 0xc8], [0xc6, 0xc8, 0x00], [0xc7, 0xc8, 0, 0, 0, 0], [0x0f, 0x01, 0xe8],
      [0x0f, 0xba, 0xc0, 0x00], [0x0f, 0xc7, 0x03 | (2 << 3)],
    ];
    for (const c of cases) expectFault(h, c, UD, null, { [EBX]: DATA });
  });
  it('memory-only instructions with a register operand', () => {
    for (const c of [[0x8d, 0xc0], [0x62, 0xc0], [0xc4, 0xc0], [0xc5, 0xc0], [0x0f, 0xb2, 0xc0], [0xff, 0xd8], [0xff, 0xe8], [0x0f, 0x01, 0xd0], [0x0f, 0xc7, 0xc8]]) {
      expectFault(h, c, UD, null);
    }
  });
  it('mov to CS and to a nonexistent segment register', () => {
    expectFault(h, [0x8e, 0xc8], UD, null);
    expectFault(h, [0x8e, 0xf0], UD, null);
    expectFault(h, [0x8c, 0xf0], UD, null);
  });
  it('LOCK on a non-lockable instruction', () => {
    for (const c of [[0xf0, 0x90], [0xf0, 0x8b, 0x03], [0xf0, 0x89, 0x03], [0xf0, 0x83, 0x3b, 0x01], [0xf0, 0x0f, 0xa3, 0x03], [0xf0, 0x85, 0x03], [0xf0, 0xa5], [0xf0, 0x0f, 0xa2]]) {
      expectFault(h, c, UD, null, { [EBX]: DATA });
    }
  });
  it('LOCK with a register destination', () => {
    for (const c of [[0xf0, 0x01, 0xc8], [0xf0, 0x87, 0xc8], [0xf0, 0xfe, 0xc0], [0xf0, 0x0f, 0xc1, 0xc8], [0xf0, 0x0f, 0xb1, 0xca], [0xf0, 0x0f, 0xab, 0xc8], [0xf0, 0xf7, 0xd8]]) {
      expectFault(h, c, UD, null);
    }
  });
  it('LOCK on lockable memory forms executes', () => {
    h.w32(DATA, 41);
    h.exec([0xf0, 0xff, 0x03, 0xf0, 0x0f, 0xab, 0x0b, 0xf0, 0x87, 0x03], { [EBX]: DATA, [ECX]: 31, [EAX]: 7 });
    // lock inc [ebx] ; lock bts [ebx], ecx ; lock xchg [ebx], eax
    expect(h.eax).toBe((42 | 0x80000000) >>> 0);
    expect(h.r32(DATA)).toBe(7);
  });
});

describe('segment limits and types', () => {
  const h = new Harness().flat32([0xf4]);
  const DATA_AR = AR_P | AR_S | 0x03 | AR_DB;
  function withSeg(seg: number, base: number, limit: number, ar: number, fn: () => void): void {
    h.setSeg(seg, base, limit, ar);
    try { fn(); } finally { h.setSeg(seg, 0, 0xffffffff, seg === CS ? AR_P | AR_S | 0x0b | AR_DB : DATA_AR, seg === CS ? 0x08 : SEL_DATA32); }
  }
  it('DS limit: the last byte of the access must be within the limit', () => {
    withSeg(DS, 0, 0xfff, DATA_AR, () => {
      h.exec([0x8b, 0x03], { [EBX]: 0xffc });
      expectFault(h, [0x8b, 0x03], GP, 0, { [EBX]: 0xffd });
      expectFault(h, [0x66, 0x8b, 0x03], GP, 0, { [EBX]: 0xfff });
      expectFault(h, [0x8a, 0x03], GP, 0, { [EBX]: 0x1000 });
      expectFault(h, [0xff, 0x03], GP, 0, { [EBX]: 0xffe }); // inc dword: read-modify-write
    });
  });
  it('a faulting store leaves memory and registers unchanged', () => {
    withSeg(DS, 0, 0xfff, DATA_AR, () => {
      h.w32(0xffe, 0x11111111);
      expectFault(h, [0x89, 0x0b], GP, 0, { [EBX]: 0xffe, [ECX]: 0x22222222 });
      expect(h.r32(0xffe)).toBe(0x11111111);
    });
  });
  it('expand-down data segment: offsets at or below the limit fault', () => {
    withSeg(ES, 0, 0x0fff, AR_P | AR_S | 0x07 | AR_DB, () => {
      h.exec([0x26, 0x8b, 0x03], { [EBX]: 0x1000 });
      expectFault(h, [0x26, 0x8b, 0x03], GP, 0, { [EBX]: 0x0fff });
      expectFault(h, [0x26, 0x8b, 0x03], GP, 0, { [EBX]: 0x0ffe });
    });
  });
  it('writes to a read-only data segment and to a code segment are #GP(0); reads of execute-only code too', () => {
    withSeg(ES, 0, 0xfffff, AR_P | AR_S | 0x01 | AR_DB, () => {
      h.exec([0x26, 0x8b, 0x03], { [EBX]: DATA });
      expectFault(h, [0x26, 0x89, 0x03], GP, 0, { [EBX]: DATA });
      expectFault(h, [0x26, 0xff, 0x03], GP, 0, { [EBX]: DATA });
    });
    expectFault(h, [0x2e, 0x89, 0x03], GP, 0, { [EBX]: DATA }); // CS is readable code, never writable
    h.exec([0x2e, 0x8b, 0x03], { [EBX]: DATA });
  });
  it('SS limit: EBP/ESP-based operands beyond it are #SS(0); with a DS override DS is checked instead', () => {
    withSeg(SS, 0, 0x8ffff, DATA_AR, () => {
      expectFault(h, [0x8b, 0x45, 0x00], SS_, 0, { [EBP]: 0x90000 });
      expectFault(h, [0x8b, 0x44, 0x24, 0x0e], SS_, 0, { [ESP]: 0x8fff0 }); // mov eax, [esp+14]: last byte 0x90001
      h.exec([0x3e, 0x8b, 0x45, 0x00], { [EBP]: 0x90000 });
    });
  });
  it('null selector in DS: any access is #GP(0)', () => {
    h.cpu.setSegCache(DS, 0, 0, 0, 0);
    try {
      expectFault(h, [0x8b, 0x03], GP, 0, { [EBX]: DATA });
    } finally { h.setSeg(DS, 0, 0xffffffff); }
  });
});

describe('BOUND', () => {
  const h = new Harness().flat32([0xf4]);
  it('signed bounds, inclusive; #BR at the instruction when outside (32 and 16 bits)', () => {
    h.w32(DATA, 0xfffffffe); // -2
    h.w32(DATA + 4, 10);
    for (const [v, ok] of [[-2, true], [10, true], [0, true], [11, false], [-3, false], [0x7fffffff, false]] as const) {
      h.prepare([0x62, 0x03], { [EAX]: v >>> 0, [EBX]: DATA });
      if (ok) { h.runToHalt(); continue; }
      const f = h.runToFault();
      expect([f.vector, f.err, f.eip], `eax=${v}`).toEqual([5, null, CODE]);
    }
    h.w16(DATA + 8, 0x8000); // -32768
    h.w16(DATA + 10, 0x7fff);
    h.prepare([0x66, 0x62, 0x43, 0x08], { [EAX]: 0xffff8000, [EBX]: DATA });
    h.runToHalt();
    h.w16(DATA + 10, 0x0000);
    h.prepare([0x66, 0x62, 0x43, 0x08], { [EAX]: 0x00000001, [EBX]: DATA });
    expect(h.runToFault().vector).toBe(5);
  });
});

describe('instruction length', () => {
  const h = new Harness().flat32([0xf4]);
  it('15 bytes execute; 16 bytes are #GP(0)', () => {
    h.exec([...Array(14).fill(0x3e), 0x40]);
    expect(h.eax).toBe(1);
    // add dword [DATA], 1 with imm32: 10 bytes + 5 prefixes = 15
    h.w32(DATA, 1);
    h.exec([...Array(5).fill(0x3e), 0x81, 0x05, ...le32(DATA), ...le32(1)]);
    expect(h.r32(DATA)).toBe(2);
    expectFault(h, [...Array(15).fill(0x3e), 0x40], GP, 0);
    expectFault(h, [...Array(6).fill(0x3e), 0x81, 0x05, ...le32(DATA), ...le32(1)], GP, 0);
    expect(h.r32(DATA)).toBe(2);
  });
});

describe('real-mode exceptions through the IVT', () => {
  it('#DE pushes FLAGS, CS and the IP of the faulting DIV; clears IF and TF', () => {
    const h = new Harness().real([0xb1, 0x00, 0xf6, 0xf1], 0x100); // mov cl, 0 ; div cl
    h.cpu.setEflags(2 | IF | CF | ZF);
    const f = h.runToFault();
    expect(f.vector).toBe(DE);
    expect(f.eip).toBe(0x102);
    expect(f.cs).toBe(REAL_CS);
    expect(f.eflags).toBe(2 | IF | CF | ZF);
    expect(h.cpu.r16[ESP << 1]).toBe(0xfff0 - 6);
    expect(h.eflags & (IF | TF)).toBe(0);
  });
  it('#UD from an undefined opcode and INT n (which pushes the next IP)', () => {
    const h = new Harness().real([0x90, 0x0f, 0x0b], 0x200);
    const f = h.runToFault();
    expect(f.vector).toBe(UD);
    expect(f.eip).toBe(0x201);
    const g = new Harness().real([0xcd, 0x21, 0x90], 0x300);
    const e = g.run();
    expect(e).toBe(Exit.Halt);
    expect(g.faultVector()).toBe(0x21);
    expect(g.fault().eip).toBe(0x302);
  });
  it('16-bit segment limit in real mode: a word at offset FFFF is #GP (the 386 does not wrap)', () => {
    const h = new Harness().real([0x8b, 0x07], 0x100); // mov ax, [bx]
    h.cpu.r32[EBX] = 0xffff;
    expect(h.runToFault().vector).toBe(GP);
  });
  it('32-bit operand and address prefixes in real mode', () => {
    const h = new Harness().real([0x66, 0xb8, ...le32(0x12345678), 0x67, 0x66, 0x89, 0x04, 0x4b, 0xf4], 0x100);
    // mov eax, 0x12345678 ; mov [ebx+ecx*2], eax
    h.cpu.r32[EBX] = 0x100; h.cpu.r32[ECX] = 0x10;
    h.runToHalt();
    expect(h.r32(0x120)).toBe(0x12345678);
  });
});

describe('real mode: far transfers beyond the CS limit', () => {
  // SDM Vol.2A JMP/CALL/RET, real-address mode: #GP(0) when the target offset is beyond
  // the CS limit, raised before anything is pushed or loaded. Found by the KVM lockstep
  // harness (66 9A with a 32-bit offset); the interpreter used to jump and fault later.
  it('66 call far ptr16:32 with an offset above 0xFFFF faults at the CALL, stack untouched', () => {
    const h = new Harness().real([0x66, 0x9a, 0x00, 0x00, 0x01, 0x00, 0x34, 0x12], 0x100); // call 0x1234:0x00010000
    const f = h.runToFault();
    expect(f.vector).toBe(13);
    expect(f.eip).toBe(0x100);
    expect(h.cpu.r32[4]).toBe(0xfff0 - 6); // only the #GP frame
  });
  it('66 jmp far and 66 retf likewise; an offset inside the limit still transfers', () => {
    const j = new Harness().real([0x66, 0xea, 0x00, 0x00, 0x02, 0x00, 0x00, 0x10], 0x100);
    expect(j.runToFault().vector).toBe(13);
    const r = new Harness().real([0x66, 0x6a, 0x00, 0x66, 0x68, 0x00, 0x00, 0x01, 0x00, 0x66, 0xcb], 0x100); // push 0 ; push 0x10000 ; retf
    const f = r.runToFault();
    expect(f.vector).toBe(13);
    expect(f.eip).toBe(0x109);
    const ok = new Harness().real([0x66, 0xea, 0x10, 0x01, 0x00, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xf4], 0x100); // jmp far 0x1000:0x0110 -> hlt
    ok.runToHalt();
    expect(ok.cpu.eip).toBe(0x111);
  });
});

describe('protected mode: RF in the EFLAGS image of a fault', () => {
  // SDM Vol.3A §17.3.1.1: fault-class exceptions push EFLAGS with RF set (VMX/SVM hardware
  // and KVM do); traps and INT n push it as it was. Found by the KVM lockstep harness.
  const RF = 1 << 16;
  it('#UD and #GP push RF=1', () => {
    const h = new Harness().flat32([0xf4]);
    h.prepare([0x0f, 0x0b]); // ud2
    const ud = h.runToFault();
    expect(ud.vector).toBe(UD);
    expect(ud.eflags & RF).toBe(RF);
    h.prepare([0x8e, 0xd8], { [EAX]: 0xfff8 }); // mov ds, ax with a selector beyond the GDT limit
    const gp = h.runToFault();
    expect(gp.vector).toBe(GP);
    expect(gp.eflags & RF).toBe(RF);
    expect(h.cpu.getEflags() & RF).toBe(0); // the handler itself runs with RF clear
  });
  it('INT n and INT3 push RF as it was (clear)', () => {
    const h = new Harness().flat32([0xf4]);
    h.prepare([0xcd, 0x40]);
    expect(h.runToFault().eflags & RF).toBe(0);
    h.prepare([0xcc]);
    expect(h.runToFault().eflags & RF).toBe(0);
  });
});

describe('real mode: a far-pointer operand across offset 0xFFFF', () => {
  // LDS/LES/LSS/LFS/LGS and CALL/JMP m16:16 read one 4-byte operand: at offset 0xFFFE its
  // selector word lies beyond the 64 KiB limit, which faults (#GP for DS) on a 386+ rather
  // than wrapping to offset 0. Found by the KVM lockstep harness.
  it('lds si, [0xfffe] raises #GP and leaves DS and SI alone', () => {
    const h = new Harness().real([0xc5, 0x36, 0xfe, 0xff], 0x100); // lds si, [0xfffe]
    const ds0 = h.cpu.segSel[DS];
    h.cpu.r32[6] = 0x1234;
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(h.cpu.segSel[DS]).toBe(ds0);
    expect(h.cpu.r32[6]).toBe(0x1234);
  });
  it('call far [0xfffe] raises #GP before pushing anything', () => {
    const h = new Harness().real([0xff, 0x1e, 0xfe, 0xff], 0x100); // call far [0xfffe]
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.eip).toBe(0x100);
    expect(h.cpu.r32[4]).toBe(0xfff0 - 6);
  });
});
