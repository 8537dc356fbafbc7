// Snapshots and determinism on small guests (fast): the APIC/RTC platform kernel
// (timers, interrupts, serial output) run uninterrupted vs. snapshotted mid-run and
// restored; corrupt, truncated and incompatible files are rejected with a reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine';
import { decodeSnapshot, encodeSnapshot, SnapshotError } from '../../src/machine/snapshot-format';
import { saveCpuState } from '../../src/cpu/cpu-state';

const ROOT = join(__dirname, '..', '..');
const APIC_KERNEL = join(ROOT, 'fixtures/platform/apic-kernel.bin');

function apicMachine(): Machine {
  return new Machine({ memMiB: 64, kernel: { path: APIC_KERNEL, image: new Uint8Array(readFileSync(APIC_KERNEL)) }, flatAddr: 0x100000, flatBits: 32, deterministic: true });
}

async function runToEnd(m: Machine): Promise<{ text: string; icount: number; hash: string; status: number }> {
  const o = await m.run();
  return { text: m.serial.text, icount: m.cpu.icount, hash: m.stateHash(), status: o.exitStatus };
}

describe('deterministic runs and snapshots (platform kernel)', () => {
  it('two runs give identical transcripts, instruction counts and state hashes', async () => {
    const a = await runToEnd(apicMachine());
    const b = await runToEnd(apicMachine());
    expect(a.text).toBe('apic timer 20, ipi 1, rtc 64\nok\n');
    expect(a.status).toBe(0x43);
    expect(b).toEqual(a);
  });

  it('a run restored from a mid-run snapshot ends exactly like the uninterrupted run', async () => {
    const ref = await runToEnd(apicMachine());
    for (const at of [1, Math.floor(ref.icount / 7), Math.floor(ref.icount / 2), ref.icount - 10]) {
      const m = apicMachine();
      await m.runUntilInstruction(at);
      expect(m.cpu.icount).toBe(at);
      const before = m.serial.text;
      const file = m.snapshot();
      const hashAtSnapshot = m.stateHash();
      // The original keeps running to the same end...
      const cont = await runToEnd(m);
      expect(cont).toEqual(ref);
      // ...and so does the restored copy, from the same state.
      const r = Machine.fromSnapshot(file);
      expect(r.stateHash()).toBe(hashAtSnapshot);
      const out = await runToEnd(r);
      expect(before + out.text).toBe(ref.text);
      expect(out.icount).toBe(ref.icount);
      expect(out.hash).toBe(ref.hash);
    }
  });

  it('the state hash covers CPU, RAM and devices', () => {
    const m = apicMachine();
    const h0 = m.stateHash();
    m.mem.ram[0x5000] ^= 1;
    const h1 = m.stateHash();
    expect(h1).not.toBe(h0);
    expect(m.stateHash({ ram: false })).toBe(apicMachine().stateHash({ ram: false }));
    m.mem.ram[0x5000] ^= 1;
    expect(m.stateHash()).toBe(h0);
    m.cpu.r32[3] = 7;
    expect(m.stateHash()).not.toBe(h0);
  });

  it('materialised flags: a lazy and an eager EFLAGS with the same value save the same state', () => {
    const m = apicMachine();
    m.cpu.setLazy(2 /* SUB */, 5, 5, 0, 4); // ZF=1 PF=1 via the lazy path
    const lazy = saveCpuState(m.cpu);
    m.cpu.materializeFlags();
    expect(saveCpuState(m.cpu)).toEqual(lazy);
    expect(lazy.eflags & 0x40).toBe(0x40);
  });
});

describe('snapshot files that cannot be used', () => {
  const file = apicMachine().snapshot();

  it('round-trips', () => {
    const s = decodeSnapshot(file);
    expect(s.header.config.memMiB).toBe(64);
    expect(s.ram.length).toBe(64 << 20);
  });

  it('rejects a corrupted file (one flipped bit) by its checksum', () => {
    for (const off of [40, Math.floor(file.length / 2), file.length - 40]) {
      const bad = file.slice();
      bad[off] ^= 0x10;
      expect(() => Machine.fromSnapshot(bad)).toThrow(SnapshotError);
      expect(() => Machine.fromSnapshot(bad)).toThrow(/corrupt: the SHA-256 checksum does not match/);
    }
  });

  it('rejects a truncated file, saying how long it should be', () => {
    expect(() => Machine.fromSnapshot(file.subarray(0, file.length - 1))).toThrow(new RegExp(`truncated: the file has ${file.length - 1} bytes, its header says ${file.length}`));
    expect(() => Machine.fromSnapshot(file.subarray(0, 20))).toThrow(/truncated/);
    expect(() => Machine.fromSnapshot(new Uint8Array(0))).toThrow(/not a ts86 snapshot/);
  });

  it('rejects other format versions with the exact reason', () => {
    const newer = file.slice();
    new DataView(newer.buffer).setUint32(8, 2, true);
    expect(() => Machine.fromSnapshot(newer)).toThrow(/format version 2 is newer than this ts86 reads \(version 1\)/);
    const older = file.slice();
    new DataView(older.buffer).setUint32(8, 0, true);
    expect(() => Machine.fromSnapshot(older)).toThrow(/format version 0 is older than any this ts86 can convert/);
  });

  it('rejects a device state of another schema version, naming the device, before changing anything', () => {
    const s = decodeSnapshot(file);
    const devices = { ...s.header.devices, com1: { ...s.header.devices.com1!, version: 9 } };
    const re = encodeSnapshot({ ...s.header, devices }, s.ram);
    expect(() => Machine.fromSnapshot(re)).toThrow(/device com1 state is version 9; this ts86 reads version 1/);
    const missing = { ...s.header.devices };
    delete missing.i8254;
    expect(() => Machine.fromSnapshot(encodeSnapshot({ ...s.header, devices: missing }, s.ram))).toThrow(/no state for device i8254/);
    const cpu = { ...s.header.cpu, gpr: [1, 2, 3] };
    expect(() => Machine.fromSnapshot(encodeSnapshot({ ...s.header, cpu }, s.ram))).toThrow(/CPU register arrays are malformed/);
  });
});
