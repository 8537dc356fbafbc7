import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MiniPc } from '../helpers/mini-pc';

const here = path.dirname(fileURLToPath(import.meta.url));
const KERNEL = path.join(here, '../../fixtures/platform/kernel.bin');
const APIC_KERNEL = path.join(here, '../../fixtures/platform/apic-kernel.bin');
/** Offset of the patchable tick target in the kernel header (after "T86P"). */
const TICK_TARGET_OFFSET = 8;

// The CPU core is written in parallel; skip (rather than fail) until it exports what we need.
const cpuSource = path.join(here, '../../src/cpu/cpu.ts');
const cpuReady = fs.existsSync(cpuSource) && /setupFlat32/.test(fs.readFileSync(cpuSource, 'utf8'));

function kernelWithTicks(ticks: number): Uint8Array {
  const img = new Uint8Array(fs.readFileSync(KERNEL));
  expect(String.fromCharCode(...img.subarray(4, 8))).toBe('T86P');
  new DataView(img.buffer).setUint32(TICK_TARGET_OFFSET, ticks, true);
  return img;
}

describe.skipIf(!cpuReady)('guest platform kernel', () => {
  it('programs PIC and PIT, takes timer interrupts in HLT, prints over the UART, exits via 0xf4', () => {
    const pc = new MiniPc();
    pc.loadFlat32(kernelWithTicks(10));
    const r = pc.run(50_000_000);
    expect(r.message).toBe('');
    expect(r.reason).toBe('exit');
    expect(pc.serial.text).toBe('ts86 platform test\nticks: 10\nok\n');
    expect(r.exitStatus).toBe((0x21 << 1) | 1);
    // 10 ticks at 100 Hz: about 0.1 s of virtual time (the first tick comes at once:
    // the mode-2 control word drives OUT high, an edge the PIC latches while IF=0).
    expect(r.virtualNs).toBeGreaterThan(89e6);
    expect(r.virtualNs).toBeLessThan(130e6);
  });

  it('sleeps 10 virtual seconds in HLT in well under one host second', () => {
    const pc = new MiniPc();
    pc.loadFlat32(kernelWithTicks(1000));
    const t0 = performance.now();
    const r = pc.run(100_000_000);
    const hostMs = performance.now() - t0;
    expect(r.reason).toBe('exit');
    expect(pc.serial.text).toBe('ts86 platform test\nticks: 1000\nok\n');
    expect(r.exitStatus).toBe(0x43);
    expect(r.virtualNs).toBeGreaterThan(9.98e9);
    expect(r.virtualNs).toBeLessThan(10.2e9);
    expect(hostMs).toBeLessThan(1000);
    // Idle: the guest spent nearly all of the ten seconds halted, not executing.
    expect(r.instructions).toBeLessThan(500_000);
  });

  it('local APIC timer and self-IPI, RTC periodic interrupts through the slave PIC and the virtual wire', () => {
    const pc = new MiniPc();
    pc.loadFlat32(APIC_KERNEL);
    const r = pc.run(50_000_000);
    expect(r.message).toBe('');
    expect(pc.serial.text).toBe('apic timer 20, ipi 1, rtc 64\nok\n');
    expect(r.exitStatus).toBe(0x43);
    // 20 periods of 10 ms.
    expect(r.virtualNs).toBeGreaterThan(200e6);
    expect(r.virtualNs).toBeLessThan(215e6);
  });

  it('is deterministic: two runs give the same output, time and device state', () => {
    const once = (): { text: string; ns: number; icount: number; state: string } => {
      const pc = new MiniPc();
      pc.loadFlat32(APIC_KERNEL);
      const r = pc.run(50_000_000);
      return { text: pc.serial.text, ns: r.virtualNs, icount: r.instructions, state: JSON.stringify(pc.platform.saveState()) };
    };
    const a = once();
    const b = once();
    expect(b).toEqual(a);
  });
});
