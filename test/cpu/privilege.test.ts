// CPL 3 behaviour of the instructions the interpreter core implements: IOPL-sensitive
// instructions and the TSS I/O permission bitmap (SDM Vol.1 §19.5), privileged instructions
// (#GP(0)), POPF's silent masking, INT n against the gate DPL, and exception delivery with a
// stack switch to the TSS ring-0 stack. Ring-3 snippets end in HLT, which faults with #GP(0)
// at CPL 3: reaching that fault at the HLT's address means everything before it ran.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, STACK_TOP, USER_STACK, IDT_BASE, SEL_CODE32, SEL_CODE32_R3, SEL_DATA32_R3, type FaultInfo } from '../helpers/cpu-harness';
import { EAX, EDX, ECX, ESI, GP, IF, CF, AC } from '../../src/cpu/consts';
import { Exit } from '../../src/cpu/interfaces';

function ring3(code: number[], regs: Partial<Record<number, number>> = {}, iopl = 0, ports: number[] = [], flags = 0): { h: Harness; f: FaultInfo } {
  const h = new Harness().flat32([0xf4]).enterRing3(iopl, ports);
  h.prepare(code, regs, flags);
  const f = h.runToFault();
  return { h, f };
}
/** The snippet ran to its final HLT (which #GPs at CPL 3). */
function ranToEnd(r: { h: Harness; f: FaultInfo }, len: number): void {
  expect(r.f.vector).toBe(GP);
  expect(r.f.err).toBe(0);
  expect(r.f.eip, 'stopped before the final HLT').toBe(CODE + len);
}

describe('CPL 3', () => {
  it('the exception frame is on the ring-0 stack and records the ring-3 SS:ESP', () => {
    const r = ring3([0x90]);
    ranToEnd(r, 1);
    expect(r.f.cs).toBe(SEL_CODE32_R3);
    expect(r.h.esp).toBe(STACK_TOP - 24);
    expect(r.h.r32(STACK_TOP - 8)).toBe(USER_STACK);
    expect(r.h.r32(STACK_TOP - 4)).toBe(SEL_DATA32_R3);
    expect(r.h.cpu.cpl).toBe(0);
  });
  it('privileged instructions are #GP(0)', () => {
    for (const c of [[0xfa], [0xfb], [0x0f, 0x32], [0x0f, 0x30], [0x0f, 0x20, 0xc0], [0x0f, 0x22, 0xd8], [0x0f, 0x01, 0x15, 0, 0, 2, 0], [0x0f, 0x06], [0x0f, 0x09]]) {
      const r = ring3(c, { [ECX]: 0x174 });
      expect(r.f.vector, c.map((b) => b.toString(16)).join(' ')).toBe(GP);
      expect(r.f.err).toBe(0);
      expect(r.f.eip).toBe(CODE);
    }
  });
  it('cli/sti are allowed when IOPL = 3', () => {
    ranToEnd(ring3([0xfa, 0xfb], {}, 3), 2);
  });
  it('popf at CPL 3 with IOPL 0 silently keeps IF and IOPL, changes the arithmetic flags and AC', () => {
    // push 0x3000|IF|CF|AC ; popfd ; pushfd ; pop esi
    const img = 0x3000 | IF | CF | AC;
    const r = ring3([0x68, img & 0xff, (img >>> 8) & 0xff, (img >>> 16) & 0xff, 0, 0x9d, 0x9c, 0x5e], {}, 0, [], IF);
    ranToEnd(r, 8);
    expect(r.h.esi & (0x3000 | IF | CF | AC)).toBe(IF | CF | AC);
  });
});

describe('I/O permission at CPL 3', () => {
  it('ports allowed by the bitmap work; others are #GP(0) before any access', () => {
    const r = ring3([0xe6, 0x80, 0x66, 0xba, 0xf8, 0x03, 0x66, 0xed], { [EAX]: 0x41 }, 0, [0x80, 0x3f8, 0x3f9]);
    // out 80h, al ; mov dx, 3f8h ; in ax, dx
    ranToEnd(r, 8);
    expect(r.h.io.log.map((a) => [a.dir, a.port, a.size])).toEqual([['out', 0x80, 1], ['in', 0x3f8, 2]]);
    const d = ring3([0xe6, 0x81], {}, 0, [0x80]);
    expect([d.f.vector, d.f.err, d.f.eip]).toEqual([GP, 0, CODE]);
    expect(d.h.io.log).toEqual([]);
  });
  it('a multi-byte access needs every port allowed (in eax, dx at 3FEh with only 3FE-400 allowed)', () => {
    const r = ring3([0xed], { [EDX]: 0x3fe }, 0, [0x3fe, 0x3ff, 0x400]);
    expect([r.f.vector, r.f.err, r.f.eip]).toEqual([GP, 0, CODE]);
    expect(r.h.io.log).toEqual([]);
    ranToEnd(ring3([0xed], { [EDX]: 0x3fe }, 0, [0x3fe, 0x3ff, 0x400, 0x401]), 1);
  });
  it('rep outsb is checked once and then runs', () => {
    const h = new Harness().flat32([0xf4]).enterRing3(0, [0xe9]);
    h.load(DATA, [0x61, 0x62, 0x63]);
    h.prepare([0xf3, 0x6e], { [EDX]: 0xe9, [ESI]: DATA, [ECX]: 3 });
    const f = h.runToFault();
    expect([f.vector, f.eip]).toEqual([GP, CODE + 2]);
    expect(h.io.log.map((a) => a.value)).toEqual([0x61, 0x62, 0x63]);
  });
  it('IOPL = 3 skips the bitmap', () => {
    const r = ring3([0xe6, 0x81], {}, 3, []);
    ranToEnd(r, 2);
    expect(r.h.io.log.length).toBe(1);
  });
});

describe('INT n against the gate DPL', () => {
  it('a DPL-0 gate is #GP(vector*8+2) from CPL 3; a DPL-3 gate delivers', () => {
    const r = ring3([0xcd, 0x40]);
    expect([r.f.vector, r.f.err, r.f.eip]).toEqual([GP, 0x40 * 8 + 2, CODE]);
    const h = new Harness().flat32([0xf4]).enterRing3();
    // Make vector 0x80 a DPL-3 interrupt gate to a handler that halts (at CPL 0).
    h.w32(IDT_BASE + 8 * 0x80, ((SEL_CODE32 << 16) | 0x3000) >>> 0);
    h.w32(IDT_BASE + 8 * 0x80 + 4, 0x0000ee00);
    h.load(0x3000, [0xf4]);
    h.prepare([0xcd, 0x80]);
    expect(h.run()).toBe(Exit.Halt);
    expect(h.cpu.eip).toBe(0x3001);
    expect(h.cpu.cpl).toBe(0);
    expect(h.r32(STACK_TOP - 20)).toBe(CODE + 2); // EIP after INT n
    expect(h.r32(STACK_TOP - 16)).toBe(SEL_CODE32_R3);
  });
});
