// virtio-console and virtio-rng through the modern interface.
import { describe, expect, it } from 'vitest';
import { F_NEXT, F_WRITE, Ring } from './rings';
import { ModernDriver, makeRig } from './pci-rig';

function consoleRig() {
  const rig = makeRig({ console: true });
  const drv = new ModernDriver(rig, 1);
  expect(drv.negotiate()).toBe(true);
  const rx = new Ring(rig.mem, 0x200000, 8), tx = new Ring(rig.mem, 0x210000, 8);
  drv.setupQueue(0, rx);
  drv.setupQueue(1, tx);
  return { rig, drv, rx, tx };
}

describe('virtio-console', () => {
  it('transmits guest output to the backend and returns the buffers', () => {
    const { rig, drv, tx } = consoleRig();
    drv.driverOk();
    rig.mem.ram.set(new TextEncoder().encode('hello '), 0x100000);
    rig.mem.ram.set(new TextEncoder().encode('hvc0'), 0x100100);
    tx.setDesc(0, 0x100000, 6, F_NEXT, 1);
    tx.setDesc(1, 0x100100, 4, 0);
    tx.offer(0);
    drv.notify(1);
    expect(rig.con.text).toBe('hello hvc0');
    expect(tx.usedIdx).toBe(1);
    expect(tx.usedElem(0)).toEqual({ id: 0, len: 0 });
  });

  it('holds host input until the driver posts receive buffers, then fills them in order', () => {
    const { rig, drv, rx } = consoleRig();
    rig.con.input('typed before boot\n'); // no DRIVER_OK yet
    drv.driverOk();
    expect(rx.usedIdx).toBe(0);
    rx.setDesc(0, 0x100000, 8, F_WRITE);
    rx.setDesc(1, 0x100100, 64, F_WRITE);
    rx.offer(0);
    rx.offer(1);
    drv.notify(0);
    expect(rx.usedIdx).toBe(2);
    expect(rx.usedElem(0).len).toBe(8);
    expect(rx.usedElem(1).len).toBe(10);
    const got = new TextDecoder().decode(rig.mem.ram.subarray(0x100000, 0x100008)) + new TextDecoder().decode(rig.mem.ram.subarray(0x100100, 0x10010a));
    expect(got).toBe('typed before boot\n');
    expect(rig.v.transports[0]!.irq.high).toBe(true);
    rig.con.input('x'); // no buffer left: waits
    expect(rx.usedIdx).toBe(2);
    rx.setDesc(2, 0x100200, 4, F_WRITE);
    rx.offer(2);
    drv.notify(0);
    expect(rx.usedElem(2).len).toBe(1);
    expect(rig.mem.ram[0x100200]).toBe(0x78);
  });
});

describe('virtio-rng', () => {
  function rngBytes(seed: number | undefined, deterministic: boolean, len = 64): Uint8Array {
    const rig = makeRig({ rng: true, seed, deterministic });
    const drv = new ModernDriver(rig, 1);
    drv.negotiate();
    const q = new Ring(rig.mem, 0x200000, 8);
    drv.setupQueue(0, q);
    drv.driverOk();
    q.setDesc(0, 0x100000, len, F_WRITE);
    q.offer(0);
    drv.notify(0);
    expect(q.usedElem(0).len).toBe(len);
    expect(rig.v.rng!.stats.bytes).toBe(len);
    return rig.mem.ram.slice(0x100000, 0x100000 + len);
  }

  it('deterministic: the same seed gives the same bytes, another seed others', () => {
    const a = rngBytes(7, true), b = rngBytes(7, true), c = rngBytes(8, true), d = rngBytes(undefined, true);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(d).toEqual(rngBytes(0, true)); // no seed given: seed 0
    expect(new Set(a).size).toBeGreaterThan(20);
  });

  it('host randomness otherwise (two runs differ)', () => {
    expect(rngBytes(undefined, false)).not.toEqual(rngBytes(undefined, false));
  });
});
