// virtio state through a JSON snapshot: a second machine with the same RAM, PCI and
// virtio state carries on where the first stopped (queues, indices, selectors, ISR).
import { describe, expect, it } from 'vitest';
import { BLK_T_IN } from '../../../src/devices/virtio/blk';
import { F_NEXT, F_WRITE, Ring } from './rings';
import { ModernDriver, makeRig, patternImage, tempImage } from './pci-rig';

describe('virtio snapshot state', () => {
  it('restores a live virtio-blk and the console input queue', () => {
    const path = tempImage(patternImage(32));
    const a = makeRig({ disks: [{ path }], console: true });
    const drv = new ModernDriver(a, 1);
    drv.negotiate();
    const ring = new Ring(a.mem, 0x200000, 8);
    drv.setupQueue(0, ring);
    drv.driverOk();
    const req = (rig: typeof a, sector: number): void => {
      rig.mem.view.setUint32(0x100000, BLK_T_IN, true);
      rig.mem.view.setUint32(0x100008, sector, true);
      ring.setDesc(0, 0x100000, 16, F_NEXT, 1);
      ring.setDesc(1, 0x110000, 512, F_NEXT | F_WRITE, 2);
      ring.setDesc(2, 0x120000, 1, F_WRITE);
    };
    req(a, 4);
    ring.offer(0);
    drv.notify(0); a.settle();
    expect(a.mem.ram[0x110000]).toBe(4);
    // The console driver is not up yet: typed input waits in the device.
    a.con.input('queued');
    const names = a.v.devices().map((d) => d.name);
    expect(names).toEqual(['virtio-pci@01', 'virtio-pci@02']);
    const snap = JSON.parse(JSON.stringify({ pci: a.pci.saveState(), virtio: a.v.devices().map((d) => d.saveState()) }));
    expect(snap.virtio[0]).toMatchObject({ device: 'virtio-pci', version: 1, status: 0xf, queues: [{ ready: true, lastAvail: 1, usedIdx: 1 }] });

    const b = makeRig({ disks: [{ path }], console: true });
    b.mem.ram.set(a.mem.ram);
    b.pci.loadState(snap.pci);
    b.v.devices().forEach((d, i) => d.loadState(snap.virtio[i]));
    expect(b.v.transports[0]!.irq.high).toBe(true); // ISR 1 was pending, not read yet
    const ringB = new Ring(b.mem, 0x200000, 8);
    const drvB = new ModernDriver(b, 1);
    expect(drvB.isr()).toBe(1);
    req(b, 9);
    // The avail ring continues from index 1.
    b.mem.view.setUint16(ringB.avail + 4 + 2, 0, true);
    b.mem.view.setUint16(ringB.avail + 2, 2, true);
    drvB.notify(0); b.settle();
    expect(ringB.usedIdx).toBe(2);
    expect(b.mem.ram[0x110000]).toBe(9);
    // The console's queued input survives, and is delivered once its driver is up.
    const drvC = new ModernDriver(b, 2);
    drvC.negotiate();
    const rx = new Ring(b.mem, 0x300000, 8), tx = new Ring(b.mem, 0x310000, 8);
    drvC.setupQueue(0, rx); drvC.setupQueue(1, tx);
    rx.setDesc(0, 0x130000, 16, F_WRITE); rx.offer(0);
    drvC.driverOk();
    expect(new TextDecoder().decode(b.mem.ram.subarray(0x130000, 0x130006))).toBe('queued');
  });

  it('refuses a state of another device or version', () => {
    const rig = makeRig({ rng: true });
    const d = rig.v.devices()[0]!;
    expect(() => d.loadState({ ...d.saveState(), version: 2 })).toThrow(/expected virtio-pci v1/);
  });
});
