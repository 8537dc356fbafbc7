// The debugger core (src/debug/debugger.ts) on the stepper fixture (fixtures/step/steptest.S).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from '../../src/machine/machine';
import { Debugger } from '../../src/debug/debugger';

const BIN = join(__dirname, '..', '..', 'fixtures', 'step', 'steptest.bin');

function make(): Debugger {
  const m = new Machine({ memMiB: 64, kernel: { path: BIN, image: new Uint8Array(readFileSync(BIN)) }, flatAddr: 0x7c00, flatBits: 16, deterministic: true });
  return new Debugger(m);
}

describe('Debugger', () => {
  it('steps one instruction at a time and reports registers', () => {
    const d = make();
    expect(d.linearOfEip()).toBe(0x7c00);
    const e = d.step();
    expect(e).toMatchObject({ reason: 'step', eip: 0x7c02, linear: 0x7c02 });
    expect(d.regs().eax).toBe(0);
    d.step(4);
    expect(d.regs()).toMatchObject({ eip: 0x7c0c, esp: 0x7c00, ecx: 3 });
  });

  it('stops at breakpoints, and resumes from one without re-triggering', () => {
    const d = make();
    const id = d.addBreakpoint(0x7c0c);
    expect(d.breakpoints()).toEqual([{ id, linear: 0x7c0c }]);
    expect(d.cont()).toMatchObject({ reason: 'breakpoint', linear: 0x7c0c });
    expect(d.regs().ecx).toBe(3);
    expect(d.cont()).toMatchObject({ reason: 'breakpoint', linear: 0x7c0c });
    expect(d.regs().ecx).toBe(2);
    expect(d.removeBreakpoint(0x7c0c)).toBe(true);
    expect(d.removeBreakpoint(id)).toBe(false);
    const end = d.cont();
    expect(end.reason).toBe('exited');
    expect(end.outcome?.exitStatus).toBe(67);
  });

  it('step(n) stops early at a breakpoint after the first instruction', () => {
    const d = make();
    d.addBreakpoint(0x7c06);
    expect(d.step(10)).toMatchObject({ reason: 'breakpoint', linear: 0x7c06 });
    expect(d.step(1)).toMatchObject({ reason: 'step', linear: 0x7c09 });
  });

  it('steps over CALL, LOOP and REP STOSB', () => {
    const d = make();
    expect(d.runTo(0x7c0e)).toMatchObject({ reason: 'breakpoint', linear: 0x7c0e });
    expect(d.stepOver()).toMatchObject({ linear: 0x7c10 });
    expect(d.regs().eax).toBe(6);
    d.step(2);
    expect(d.linearOfEip()).toBe(0x7c12);
    expect(d.stepOver()).toMatchObject({ linear: 0x7c15 });
    expect(d.regs().ebx).toBe(5);
    d.runTo(0x7c22);
    expect(d.stepOver()).toMatchObject({ linear: 0x7c24 });
    expect(d.readLinear(0x7c36, 4)).toEqual([0x55, 0x55, 0x55, 0x55]);
    expect(d.stepOver()).toMatchObject({ reason: 'step', linear: 0x7c2a });
  });

  it('reports write watchpoints after the instruction, linear and physical', () => {
    for (const space of ['linear', 'physical'] as const) {
      const d = make();
      const id = d.addWatchpoint('write', 0x7c35, 1, space);
      const e = d.cont();
      expect(e.reason).toBe('watchpoint');
      expect(e.watch).toMatchObject({ id, write: true });
      expect(e.linear).toBe(0x7c2a);
      expect(d.readLinear(0x7c34, 2)).toEqual([0x34, 0x12]);
      expect(d.removeWatchpoint(id)).toBe(true);
      expect(d.machine.cpu.memWatch).toBeNull();
    }
  });

  it('catches stack writes with an access watchpoint and reads with a read watchpoint', () => {
    const d = make();
    d.addWatchpoint('read', 0x7bfe, 2);
    const e = d.cont();
    expect(e.reason).toBe('watchpoint');
    expect(e.linear).toBe(0x7c12); // after pop bx
    expect(e.watch?.write).toBe(false);
  });

  it('requestStop makes cont return "requested"', async () => {
    const d = make();
    d.requestStop();
    expect(d.cont().reason).toBe('requested');
    expect(d.step().reason).toBe('step');
    d.writeLinear(0x7c02, Uint8Array.from([0xeb, 0xfe])); // jmp $: spins until stopped
    const p = d.contAsync();
    setTimeout(() => d.requestStop(), 30);
    expect((await p).reason).toBe('requested');
  });

  it('cont honours an instruction budget', () => {
    const d = make();
    expect(d.cont(3)).toMatchObject({ reason: 'budget', linear: 0x7c06 });
  });

  it('sets registers and writes memory (code caches see the write)', () => {
    const d = make();
    d.step(); // decode and cache 0x7c00
    d.setReg('eip', 0x7c00);
    d.setReg('eax', 0x1234);
    expect(d.writeLinear(0x7c00, Uint8Array.from([0x40, 0x40]))).toBe(true); // inc ax; inc ax
    d.step(2);
    expect(d.regs().eax).toBe(0x1236);
    d.setReg('ds', 0x10);
    expect(d.machine.cpu.segBase[3]).toBe(0x100);
    expect(d.readPhysical(0x7c00, 2)).toEqual([0x40, 0x40]);
    expect(d.writeLinear(0xfffff000, Uint8Array.from([1]))).toBe(false);
  });

  it('calls an instruction hook at every boundary', () => {
    const d = make();
    const seen: number[] = [];
    d.setInstructionHook((lin) => seen.push(lin));
    d.step(3);
    expect(seen).toEqual([0x7c00, 0x7c02, 0x7c04]);
  });

  it('stops at a breakpoint on the first instruction of a hardware interrupt handler', () => {
    const file = join(__dirname, '..', '..', 'fixtures', 'platform', 'kernel.bin');
    const d = new Debugger(new Machine({ memMiB: 64, kernel: { path: file, image: new Uint8Array(readFileSync(file)) }, deterministic: true }));
    for (let k = 0; k < 10_000 && d.cpu.idtr.base === 0; k++) d.step();
    const gate = d.readLinear(d.cpu.idtr.base + 0x20 * 8, 8) as number[];
    const isr = (gate[0] | (gate[1] << 8) | (gate[6] << 16) | (gate[7] << 24)) >>> 0;
    d.addBreakpoint(isr);
    const ev = d.cont(50_000_000);
    expect(ev).toMatchObject({ reason: 'breakpoint', linear: isr });
    expect(d.regs().eflags & 0x200).toBe(0); // entered through the interrupt gate, not yet executed
    const ret = d.readLinear(d.regs().esp, 4) as number[];
    const retEip = (ret[0] | (ret[1] << 8) | (ret[2] << 16) | (ret[3] << 24)) >>> 0;
    expect(d.readLinear(retEip - 1, 1)).toEqual([0xf4]); // interrupted right after a HLT
    expect(d.step()).toMatchObject({ reason: 'step' });
  });
});
