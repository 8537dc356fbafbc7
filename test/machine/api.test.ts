// The library API on a small guest (the APIC/RTC platform kernel): step, run to an
// instruction count, registers and memory, waitFor (match, guest stopped, timeout).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMachine, restoreMachine } from '../../src/machine/api';
import { MachineError } from '../../src/machine/machine';
import { BufferCharBackend } from '../../src/devices/chardev';

const K = join(__dirname, '..', '..', 'fixtures/platform/apic-kernel.bin');
const vmOf = () => createMachine({ kernel: K, memMiB: 64, extra: { flatAddr: 0x100000, flatBits: 32 } });

describe('library API', () => {
  it('steps, runs to an instruction count, reads registers and memory', async () => {
    const vm = vmOf();
    expect(vm.regs().eip).toBe(0x100000);
    expect(Array.from(vm.readMemory(0x100000, 8))).toEqual(Array.from(readFileSync(K).subarray(0, 8)));
    expect(vm.readLinear(0x100000, 2)).toEqual(Array.from(readFileSync(K).subarray(0, 2)));
    vm.step(3);
    expect(vm.cpu.icount).toBe(3);
    expect(vm.regs().eip).not.toBe(0x100000);
    await vm.runUntilInstruction(1000);
    expect(vm.cpu.icount).toBe(1000);
    expect(vm.regs().cr0 & 1).toBe(1);
    expect(() => vm.readMemory(64 * 1024 * 1024 - 2, 4)).toThrow(MachineError);
    vm.dispose();
  });

  it('waitFor stops at the instruction after the matching output, the same one every run', async () => {
    const stopAt = async (): Promise<number> => {
      const vm = vmOf();
      const m = await vm.serial.waitFor(/ipi \d+/);
      expect(m.text).toBe('ipi 1');
      const n = vm.cpu.icount;
      expect(vm.outcome).toBeNull(); // the guest has not finished: the run stopped at the match
      vm.dispose();
      return n;
    };
    const a = await stopAt();
    expect(await stopAt()).toBe(a);
  });

  it('waitFor rejects when the guest stops first, or on its host timeout', async () => {
    const vm = vmOf();
    await expect(vm.serial.waitFor('never printed')).rejects.toThrow(/the guest stopped \(isa-debug-exit: guest wrote 0x21\)/);
    const vm2 = vmOf();
    await expect(vm2.serial.waitFor('never printed', { timeout: 0 })).rejects.toThrow(/timed out after 0 ms/);
  });

  it('snapshot bytes restore to a machine in the same state', async () => {
    const vm = vmOf();
    await vm.runUntilInstruction(2000);
    const r = restoreMachine(vm.snapshot());
    expect(r.regs()).toEqual(vm.regs());
    expect(r.stateHash()).toBe(vm.stateHash());
    expect(r.random.nextU32()).toBe(vm.random.nextU32());
  });

  it('deterministic machines apply host input at the next whole virtual millisecond', async () => {
    const host = new BufferCharBackend();
    const vm = createMachine({ kernel: K, memMiB: 64, serial: host, extra: { flatAddr: 0x100000, flatBits: 32 } });
    const runToNs = async (ns: number): Promise<void> => {
      let hit = false;
      vm.at(ns, () => { hit = true; vm.requestBreak(); });
      await vm.runUntilCondition(() => hit, 60_000, `virtual time ${ns}`);
    };
    await runToNs(10_000);
    const uartHas = (): number => { const s = vm.platform.com1.saveState(); return s.rx.length + s.hostInput.length; };
    host.input('k'); // the host delivers a key now...
    expect(uartHas()).toBe(0); // ...the guest sees it at 1 ms of virtual time, not before
    await runToNs(999_000);
    expect(uartHas()).toBe(0);
    await runToNs(1_001_000);
    expect(uartHas()).toBe(1);
  });
});
