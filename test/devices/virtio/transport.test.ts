// The virtio PCI transport driven like a guest driver would: config space and
// capabilities, modern and legacy register files, feature negotiation, reset, INTx,
// and the stop (NEEDS_RESET) on a malformed chain without a byte moving.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BLK_S_IOERR, BLK_S_OK, BLK_S_UNSUPP, BLK_T_FLUSH, BLK_T_GET_ID, BLK_T_IN, BLK_T_OUT, BLK_T_WRITE_ZEROES, BLK_T_DISCARD } from '../../../src/devices/virtio/blk';
import { F_INDIRECT, F_NEXT, F_WRITE, Ring } from './rings';
import { LegacyDriver, ModernDriver, RAM, makeRig, patternImage, tempImage } from './pci-rig';

const HDR = 0x100000, DATA = 0x110000, STATUS = 0x120000, RING = 0x200000;

function blkRig(readOnly = false, sectors = 64) {
  const path = tempImage(patternImage(sectors));
  const rig = makeRig({ disks: [{ path, readOnly }] });
  const drv = new ModernDriver(rig, 1);
  expect(drv.negotiate()).toBe(true);
  const ring = new Ring(rig.mem, RING, 16);
  drv.setupQueue(0, ring);
  drv.driverOk();
  return { path, rig, drv, ring };
}

/** Builds a 3-descriptor request: header, data (readable for OUT), status. */
function request(ring: Ring, mem: Ring['mem'], type: number, sector: number, dataLen: number, head = 0): void {
  mem.view.setUint32(HDR, type, true);
  mem.view.setUint32(HDR + 4, 0, true);
  mem.view.setUint32(HDR + 8, sector % 2 ** 32, true);
  mem.view.setUint32(HDR + 12, Math.floor(sector / 2 ** 32), true);
  mem.ram[STATUS] = 0xee;
  const out = type === BLK_T_OUT || type === BLK_T_DISCARD || type === BLK_T_WRITE_ZEROES;
  ring.setDesc(head, HDR, 16, F_NEXT, head + 1);
  if (dataLen) {
    ring.setDesc(head + 1, DATA, dataLen, F_NEXT | (out ? 0 : F_WRITE), head + 2);
    ring.setDesc(head + 2, STATUS, 1, F_WRITE);
  } else ring.setDesc(head + 1, STATUS, 1, F_WRITE);
  ring.offer(head);
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('virtio PCI function: config space', () => {
  it('is a transitional virtio-blk with its capabilities, BARs, INTA and IRQ assigned', () => {
    const rig = makeRig({ disks: [{ path: tempImage(patternImage(8)) }], rng: true });
    const c = rig.cfgRead;
    expect(c(1, 0x00, 4)).toBe(0x10011af4);
    expect(c(1, 0x2c, 4)).toBe(0x00021af4); // subsystem: virtio, type 2 (block)
    expect(c(2, 0x00, 4)).toBe(0x10051af4);
    expect(c(2, 0x2e, 2)).toBe(4);
    expect(c(1, 0x08, 4) >>> 8).toBe(0x010000);
    expect(c(1, 0x04, 2) & 7).toBe(7);
    expect(c(1, 0x06, 2) & 0x10).toBe(0x10);
    expect(c(1, 0x10, 4)).toBe(0xc001);
    expect(c(1, 0x14, 4)).toBe(0xe0000000);
    expect(c(2, 0x10, 4)).toBe(0xc101);
    expect([c(1, 0x3c, 1), c(1, 0x3d, 1)]).toEqual([5, 1]);
    expect(c(2, 0x3c, 1)).toBe(9);
    // Walk the capability list (PCI 3.0 §6.7).
    const caps: { type: number; bar: number; off: number; len: number }[] = [];
    for (let p = c(1, 0x34, 1); p; p = c(1, p + 1, 1)) {
      expect(c(1, p, 1)).toBe(0x09);
      caps.push({ type: c(1, p + 3, 1), bar: c(1, p + 4, 1), off: c(1, p + 8, 4), len: c(1, p + 12, 4) });
    }
    expect(caps.map((x) => x.type)).toEqual([1, 3, 4, 2, 5]);
    expect(caps[0]).toEqual({ type: 1, bar: 1, off: 0, len: 0x38 });
    expect(caps[3]).toMatchObject({ type: 2, bar: 1, off: 0x3000 });
    // PCI INTx IRQs are level-triggered in the ELCR.
    expect(rig.bus.ioRead(0x4d0, 1) & 0x20).toBe(0x20);
    expect(rig.bus.ioRead(0x4d1, 1) & 0x02).toBe(0x02);
  });

  it('four disks, a console and an rng: six functions, six IRQs, BARs apart', () => {
    const disks = [0, 1, 2, 3].map(() => ({ path: tempImage(patternImage(8)) }));
    const rig = makeRig({ disks, console: true, rng: true });
    const ids = [1, 2, 3, 4, 5, 6].map((slot) => rig.cfgRead(slot, 0x02, 2));
    expect(ids).toEqual([0x1001, 0x1001, 0x1001, 0x1001, 0x1003, 0x1005]);
    expect([1, 2, 3, 4, 5, 6].map((slot) => rig.cfgRead(slot, 0x3c, 1))).toEqual([5, 9, 10, 11, 14, 15]);
    expect(new Set([1, 2, 3, 4, 5, 6].map((slot) => rig.cfgRead(slot, 0x14, 4))).size).toBe(6);
    expect(rig.v.blk.map((b) => b.name)).toEqual(['blk0 (/dev/vda)', 'blk1 (/dev/vdb)', 'blk2 (/dev/vdc)', 'blk3 (/dev/vdd)']);
    expect(rig.bus.ioRead(0x4d1, 1) & 0xce).toBe(0xce); // IRQ 9, 10, 11, 14, 15 level-triggered
  });

  it('BAR sizing reads back the size masks, and moving a BAR moves the registers', () => {
    const rig = makeRig({ rng: true });
    rig.cfgWrite(1, 0x04, 2, 0);
    rig.cfgWrite(1, 0x14, 4, 0xffffffff);
    expect(rig.cfgRead(1, 0x14, 4)).toBe(0xffffc000);
    rig.cfgWrite(1, 0x10, 4, 0xffffffff);
    expect(rig.cfgRead(1, 0x10, 4)).toBe(0xffffffe1);
    rig.cfgWrite(1, 0x14, 4, 0xd0000000);
    rig.cfgWrite(1, 0x04, 2, 7);
    expect(rig.bus.mmioRead(0xd0000000 + 0x12, 2)).toBe(1); // num_queues
    // A BAR placed over another one stays unmapped instead of throwing.
    rig.cfgWrite(1, 0x04, 2, 0);
    rig.cfgWrite(1, 0x10, 4, 0x20);
    expect(() => rig.cfgWrite(1, 0x04, 2, 7)).not.toThrow();
  });

  it('the PCI configuration access capability reaches the modern BAR', () => {
    const rig = makeRig({ rng: true });
    const cap = 0x84;
    rig.cfgWrite(1, cap + 4, 1, 1);
    rig.cfgWrite(1, cap + 8, 4, 0x12);
    rig.cfgWrite(1, cap + 12, 4, 2);
    expect(rig.cfgRead(1, cap + 16, 2)).toBe(1);
    rig.cfgWrite(1, cap + 12, 4, 3); // bad width: reads 0
    expect(rig.cfgRead(1, cap + 16, 2)).toBe(0);
  });
});

describe('virtio-blk over the modern interface', () => {
  it('negotiation: VERSION_1 is required and only offered features are accepted', () => {
    const rig = makeRig({ disks: [{ path: tempImage(patternImage(8)) }] });
    const drv = new ModernDriver(rig, 1);
    const f = drv.deviceFeatures();
    expect(Math.floor(f / 2 ** 32) & 1).toBe(1); // VERSION_1
    expect(f % 2 ** 32 & 0x30000000).toBe(0x30000000); // INDIRECT_DESC, EVENT_IDX
    expect(drv.negotiate(f - 2 ** 32)).toBe(false);
    expect(drv.negotiate(f + 2 ** 40)).toBe(false);
    expect(drv.negotiate(f)).toBe(true);
  });

  it('reads, writes, flushes and identifies, completing at a fixed virtual delay', () => {
    const { path, rig, drv, ring } = blkRig();
    expect(rig.bus.mmioRead(drv.bar + 0x2000, 4)).toBe(64); // capacity in sectors
    request(ring, rig.mem, BLK_T_IN, 3, 1024);
    drv.notify(0);
    rig.aio.poll(false);
    expect(ring.usedIdx).toBe(0); // not before the completion time
    rig.settle();
    expect(ring.usedIdx).toBe(1);
    expect(ring.usedElem(0)).toEqual({ id: 0, len: 1025 });
    expect(rig.mem.ram[STATUS]).toBe(BLK_S_OK);
    expect(rig.mem.ram[DATA]).toBe(3);
    expect(rig.mem.ram[DATA + 1023]).toBe(4);
    // Interrupt: ISR bit 0 and IRQ 5 high until the ISR is read.
    const t = rig.v.transports[0]!;
    expect(t.irq.high).toBe(true);
    expect(drv.isr()).toBe(1);
    expect(t.irq.high).toBe(false);

    rig.mem.ram.fill(0xab, DATA, DATA + 512);
    request(ring, rig.mem, BLK_T_OUT, 10, 512);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[STATUS]).toBe(BLK_S_OK);
    request(ring, rig.mem, BLK_T_FLUSH, 0, 0);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[STATUS]).toBe(BLK_S_OK);
    const file = readFileSync(path);
    expect(file[10 * 512]).toBe(0xab);
    expect(file[11 * 512]).toBe(11);

    request(ring, rig.mem, BLK_T_GET_ID, 0, 20);
    drv.notify(0); rig.settle();
    expect(new TextDecoder().decode(rig.mem.ram.subarray(DATA, DATA + 8))).toBe('disk.img');
    expect(ring.usedElem(3).len).toBe(21);
    expect(rig.v.blk[0]!.stats).toMatchObject({ requests: 4, readBytes: 1024, writeBytes: 512, flushes: 1 });
  });

  it('out-of-range sectors and odd lengths are I/O errors; unknown types are unsupported', () => {
    const { rig, drv, ring } = blkRig();
    for (const [type, sector, len, want] of [[BLK_T_IN, 63, 1024, BLK_S_IOERR], [BLK_T_IN, 2 ** 40, 512, BLK_S_IOERR], [BLK_T_IN, 0, 100, BLK_S_IOERR], [BLK_T_OUT, 64, 512, BLK_S_IOERR], [99, 0, 0, BLK_S_UNSUPP]] as const) {
      request(ring, rig.mem, type, sector, len);
      drv.notify(0); rig.settle();
      expect(rig.mem.ram[STATUS]).toBe(want);
    }
    expect(rig.v.transports[0]!.failure).toBeNull();
  });

  it('write-zeroes zeroes, discard is accepted, both range-checked', () => {
    const { path, rig, drv, ring } = blkRig();
    const seg = (sector: number, num: number, flags = 0): void => {
      rig.mem.view.setUint32(DATA, sector, true); rig.mem.view.setUint32(DATA + 4, 0, true);
      rig.mem.view.setUint32(DATA + 8, num, true); rig.mem.view.setUint32(DATA + 12, flags, true);
    };
    seg(5, 2);
    request(ring, rig.mem, BLK_T_WRITE_ZEROES, 0, 16);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[STATUS]).toBe(BLK_S_OK);
    const f = readFileSync(path);
    expect([f[4 * 512], f[5 * 512], f[7 * 512 - 1], f[7 * 512]]).toEqual([4, 0, 0, 7]);
    seg(5, 2);
    request(ring, rig.mem, BLK_T_DISCARD, 0, 16);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[STATUS]).toBe(BLK_S_OK);
    seg(63, 2);
    request(ring, rig.mem, BLK_T_DISCARD, 0, 16);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[STATUS]).toBe(BLK_S_IOERR);
  });

  it(',ro: RO feature offered, writes fail with IOERR and the file is never touched', () => {
    const { path, rig, drv, ring } = blkRig(true);
    const before = sha(path);
    expect(drv.deviceFeatures() % 2 ** 32 & (1 << 5)).toBe(1 << 5);
    rig.mem.ram.fill(0xcd, DATA, DATA + 512);
    for (const type of [BLK_T_OUT, BLK_T_WRITE_ZEROES]) {
      if (type === BLK_T_WRITE_ZEROES) { rig.mem.view.setUint32(DATA, 0, true); rig.mem.view.setUint32(DATA + 8, 1, true); }
      request(ring, rig.mem, type, 0, type === BLK_T_OUT ? 512 : 16);
      drv.notify(0); rig.settle();
      expect(rig.mem.ram[STATUS]).toBe(BLK_S_IOERR);
    }
    request(ring, rig.mem, BLK_T_FLUSH, 0, 0);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[STATUS]).toBe(BLK_S_OK);
    request(ring, rig.mem, BLK_T_IN, 1, 512);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[DATA + 5]).toBe(1);
    expect(sha(path)).toBe(before);
  });

  it('serves an indirect request with event-index interrupt suppression', () => {
    const { rig, drv, ring } = blkRig();
    const t = 0x130000;
    rig.mem.view.setUint32(HDR, BLK_T_IN, true);
    rig.mem.view.setUint32(HDR + 8, 7, true);
    ring.setDesc(0, HDR, 16, F_NEXT, 1, t);
    ring.setDesc(1, DATA, 512, F_NEXT | F_WRITE, 2, t);
    ring.setDesc(2, STATUS, 1, F_WRITE, 0, t);
    ring.setDesc(0, t, 48, F_INDIRECT);
    ring.setUsedEvent(5); // the driver wants an interrupt only after used entry 5
    ring.offer(0);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[DATA]).toBe(7);
    expect(ring.availEvent).toBe(1);
    expect(rig.v.transports[0]!.isr).toBe(0);
  });

  it('host-clock mode: a notify schedules a bottom half and kicks the vCPU', () => {
    const path = tempImage(patternImage(8));
    const rig = makeRig({ disks: [{ path }], deterministic: false });
    const drv = new ModernDriver(rig, 1);
    drv.negotiate();
    const ring = new Ring(rig.mem, RING, 8);
    drv.setupQueue(0, ring);
    drv.driverOk();
    request(ring, rig.mem, BLK_T_IN, 2, 512);
    drv.notify(0);
    expect(rig.kicks()).toBe(1);
    expect(ring.usedIdx).toBe(0);
    rig.aio.poll(false);
    expect(ring.usedIdx).toBe(1);
    expect(rig.mem.ram[DATA]).toBe(2);
  });

  it('INTx Disable in the command register masks the line', () => {
    const { rig, drv, ring } = blkRig();
    const irq = rig.v.transports[0]!.irq;
    rig.cfgWrite(1, 0x04, 2, 0x407);
    request(ring, rig.mem, BLK_T_IN, 0, 512);
    drv.notify(0); rig.settle();
    expect(irq.high).toBe(false);
    expect(rig.cfgRead(1, 0x06, 2) & 0x08).toBe(0x08); // Interrupt Status still says pending
    rig.cfgWrite(1, 0x04, 2, 0x007);
    expect(irq.high).toBe(true);
  });
});

describe('malformed requests stop the device, never the host, and move no data', () => {
  it('a chain with a valid data buffer then a status byte past RAM: nothing written, NEEDS_RESET, a report', () => {
    const { path, rig, drv, ring } = blkRig();
    const before = sha(path);
    rig.mem.ram.fill(0x55, DATA, DATA + 512);
    rig.mem.view.setUint32(HDR, BLK_T_IN, true);
    ring.setDesc(0, HDR, 16, F_NEXT, 1);
    ring.setDesc(1, DATA, 512, F_NEXT | F_WRITE, 2);
    ring.setDesc(2, RAM - 1, 2, F_WRITE);
    ring.offer(0);
    drv.notify(0);
    expect(() => rig.settle()).not.toThrow();
    expect(rig.mem.ram[DATA]).toBe(0x55); // the read into the valid buffer never happened
    expect(ring.usedIdx).toBe(0);
    expect(drv.status & 0x40).toBe(0x40);
    expect(drv.isr()).toBe(2); // configuration change
    expect(rig.reports).toHaveLength(1);
    expect(rig.reports[0]).toMatch(/blk0 \(\/dev\/vda\): guest error, device stopped \(NEEDS_RESET\): chain at head 0: buffer of 2 bytes at 0x3fffff is outside guest RAM/);
    expect(rig.reports[0]).toMatch(/desc\[2\] addr=0x3fffff len=2/);
    // Stopped: further notifications do nothing.
    request(ring, rig.mem, BLK_T_OUT, 0, 512);
    drv.notify(0); rig.settle();
    expect(ring.usedIdx).toBe(0);
    expect(sha(path)).toBe(before);
    // A reset brings it back.
    expect(drv.negotiate()).toBe(true);
    expect(drv.status & 0x40).toBe(0);
    const ring2 = new Ring(rig.mem, 0x300000, 8);
    drv.setupQueue(0, ring2);
    drv.driverOk();
    request(ring2, rig.mem, BLK_T_IN, 9, 512);
    drv.notify(0); rig.settle();
    expect(rig.mem.ram[DATA]).toBe(9);
  });

  it('a request without header or status byte, a descriptor loop, a ring outside RAM', () => {
    let s = blkRig();
    s.ring.setDesc(0, STATUS, 1, F_WRITE);
    s.ring.offer(0);
    s.drv.notify(0); s.rig.settle();
    expect(s.rig.reports[0]).toMatch(/without a 16-byte header and a status byte/);

    s = blkRig();
    s.ring.setDesc(0, HDR, 16, F_NEXT, 1);
    s.ring.setDesc(1, DATA, 16, F_NEXT, 0);
    s.ring.offer(0);
    s.drv.notify(0); s.rig.settle();
    expect(s.rig.reports[0]).toMatch(/a loop/);

    const rig = makeRig({ rng: true });
    const drv = new ModernDriver(rig, 1);
    drv.negotiate();
    drv.setupQueue(0, new Ring(rig.mem, RAM - 0x1000, 256));
    expect(rig.reports[0]).toMatch(/rng: guest error.*descriptor table of 4096 bytes at 0x3ff000 is outside guest RAM|rng: guest error.*outside guest RAM/);
    expect(drv.status & 0x40).toBe(0x40);
  });
});

describe('virtio over the legacy interface', () => {
  it('features without VERSION_1, PFN queues, notify and read-to-clear ISR', () => {
    const path = tempImage(patternImage(16));
    const rig = makeRig({ disks: [{ path }] });
    const drv = new LegacyDriver(rig, 1);
    expect(drv.port).toBe(0xc000);
    drv.w(0x12, 1, 0);
    drv.w(0x12, 1, 3);
    const host = drv.r(0x00, 4);
    expect(host & 0x30000000).toBe(0x30000000);
    drv.w(0x04, 4, host);
    expect(drv.r(0x14, 4)).toBe(16); // capacity, at the legacy device-config offset
    const ring = drv.setupQueue(0, 0x200);
    expect(ring.size).toBe(256);
    expect(drv.r(0x08, 4)).toBe(0x200);
    drv.w(0x12, 1, 7);
    request(ring, rig.mem, BLK_T_IN, 5, 512);
    drv.w(0x10, 2, 0);
    rig.settle();
    expect(rig.mem.ram[DATA]).toBe(5);
    expect(ring.usedIdx).toBe(1);
    expect(rig.v.transports[0]!.legacy).toBe(true);
    expect(drv.r(0x13, 1)).toBe(1);
    expect(drv.r(0x13, 1)).toBe(0);
    drv.w(0x12, 1, 0); // reset
    expect(drv.r(0x08, 4)).toBe(0);
    expect(drv.r(0x12, 1)).toBe(0);
  });
});
