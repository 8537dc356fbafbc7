// A bare machine for CPU guest tests: RAM, a port-0xE9 console, nothing else.
import { readFileSync } from 'node:fs';
import { Cpu, type CpuOptions } from '../../src/cpu/cpu';
import { PhysMemory } from '../../src/mmu/physmem';
import { Exit } from '../../src/cpu/interfaces';

export interface GuestRun { cpu: Cpu; out: string; exit: Exit; }

export function fixture(name: string): Uint8Array {
  return readFileSync(new URL(`../../fixtures/cpu/${name}`, import.meta.url));
}

/** Loads `image` at `load` and runs from real mode CS:IP = 0:load until HLT (or the budget runs out). */
export function runRealModeGuest(image: Uint8Array, load = 0x7c00, opts: CpuOptions & { ramMiB?: number; budget?: number } = {}): GuestRun {
  const mem = new PhysMemory((opts.ramMiB ?? 8) << 20);
  let out = '';
  const io = {
    ioRead: (_port: number, size: number) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
    ioWrite: (port: number, _size: number, v: number) => { if (port === 0xe9) out += String.fromCharCode(v & 0xff); },
  };
  const cpu = new Cpu(mem, io, opts);
  mem.ram.set(image, load);
  cpu.setupReal(0, load, 0, load);
  const exit = cpu.run(opts.budget ?? 5_000_000);
  return { cpu, out, exit };
}
