// virtio in the machine's snapshots and state hashes: a machine with a disk and an
// rng saves and restores with the same device set (same hash); without it, the
// restore is refused naming the missing virtio function.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/machine/machine';
import { SnapshotError } from '../../../src/machine/snapshot-format';
import { patternImage, tempImage } from './pci-rig';

const KERNEL = join(__dirname, '..', '..', '..', 'fixtures/platform/apic-kernel.bin');

describe('virtio devices in machine snapshots', () => {
  it('save and restore with the same disks and rng: the same state hash; a different device set is refused', async () => {
    const disks = [{ path: tempImage(patternImage(16)), readOnly: true }];
    const m = new Machine({ memMiB: 64, kernel: { path: KERNEL, image: new Uint8Array(readFileSync(KERNEL)) }, flatAddr: 0x100000, flatBits: 32, deterministic: true, disks, rng: true });
    expect(m.platform.devices().map((d) => d.name).slice(-2)).toEqual(['virtio-pci@01', 'virtio-pci@02']);
    await m.runUntilInstruction(5000);
    const file = m.snapshot();
    const r = Machine.fromSnapshot(file, { disks, rng: true });
    expect(r.stateHash()).toBe(m.stateHash());
    expect(r.platform.saveState()['virtio-pci@01']).toEqual(m.platform.saveState()['virtio-pci@01']);
    expect(() => Machine.fromSnapshot(file, { rng: true })).toThrow(SnapshotError);
    expect(() => Machine.fromSnapshot(file, { rng: true })).toThrow(/virtio-pci@02/);
    // Same number of functions, another device in slot 1.
    expect(() => Machine.fromSnapshot(file, { rng: true, console: 'virtio' })).toThrow(/virtio-pci@01 loadState: the snapshot has virtio device type 2 in this slot, this machine has 3/);
    for (const x of [m, r]) x.close();
  });
});
