// A bus, PCI host, PIC and RAM with virtio devices attached the way the Machine does,
// plus minimal modern and legacy "drivers" that speak to them through config space,
// the memory BAR and the I/O BAR.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AioContext } from '../../../src/aio/aio-context';
import { ManualClock } from '../../../src/aio/clock';
import { IoBus } from '../../../src/devices/bus';
import { BufferCharBackend } from '../../../src/devices/chardev';
import { PciHost } from '../../../src/devices/pci';
import { PicPair } from '../../../src/devices/pic';
import { DiskImage, VirtioDevices } from '../../../src/devices/virtio/index';
import { PhysMemory } from '../../../src/mmu/physmem';
import { SeededRandom } from '../../../src/machine/seeded-random';
import { Ring } from './rings';

export const RAM = 4 << 20;

export function tempImage(bytes: Uint8Array, name = 'disk.img'): string {
  const dir = mkdtempSync(join(tmpdir(), 'ts86-virtio-'));
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** An image whose sector n is filled with byte (n & 0xff). */
export function patternImage(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) b.fill(s & 0xff, s * 512, (s + 1) * 512);
  return b;
}

export interface RigOptions {
  disks?: { path: string; readOnly?: boolean }[];
  console?: boolean;
  rng?: boolean;
  seed?: number;
  deterministic?: boolean;
}

export function makeRig(o: RigOptions = {}) {
  const clock = new ManualClock();
  const aio = new AioContext({ clock });
  const bus = new IoBus();
  const pci = new PciHost(bus);
  pci.attach(bus);
  const pic = new PicPair();
  pic.attach(bus);
  const mem = new PhysMemory(RAM, bus);
  const reports: string[] = [];
  let kicks = 0;
  const con = new BufferCharBackend();
  const v = new VirtioDevices({
    aio, mem, bus, pci, pic, deterministic: o.deterministic ?? true, kick: () => { kicks++; }, report: (m) => reports.push(m),
    disks: (o.disks ?? []).map((d) => DiskImage.open(d.path, d.readOnly === true)),
    console: o.console ? con : null, rng: o.rng === true,
    random: (o.deterministic ?? true) || o.seed !== undefined ? new SeededRandom(o.seed ?? 0) : null,
  });
  /** Lets deferred work run: advance virtual time past the completion delay, then poll. */
  const settle = (): void => { clock.advance(1_000_000); aio.poll(false); };
  const cfgRead = (dev: number, off: number, size: 1 | 2 | 4): number => {
    bus.ioWrite(0xcf8, 4, (0x80000000 | (dev << 11) | (off & 0xfc)) >>> 0);
    return bus.ioRead(0xcfc + (off & 3), size);
  };
  const cfgWrite = (dev: number, off: number, size: 1 | 2 | 4, val: number): void => {
    bus.ioWrite(0xcf8, 4, (0x80000000 | (dev << 11) | (off & 0xfc)) >>> 0);
    bus.ioWrite(0xcfc + (off & 3), size, val);
  };
  return { clock, aio, bus, pci, pic, mem, v, reports, kicks: () => kicks, con, settle, cfgRead, cfgWrite };
}

export type Rig = ReturnType<typeof makeRig>;

/** A virtio 1.x driver over the modern memory BAR (§3.1.1 initialisation). */
export class ModernDriver {
  readonly bar: number;
  constructor(readonly rig: Rig, readonly slot: number) {
    this.bar = (rig.cfgRead(slot, 0x14, 4) & ~0xf) >>> 0;
  }
  r(off: number, size: 1 | 2 | 4): number { return this.rig.bus.mmioRead(this.bar + off, size); }
  w(off: number, size: 1 | 2 | 4, v: number): void { this.rig.bus.mmioWrite(this.bar + off, size, v); }
  get status(): number { return this.r(0x14, 1); }
  deviceFeatures(): number {
    this.w(0x00, 4, 0); const lo = this.r(0x04, 4);
    this.w(0x00, 4, 1); const hi = this.r(0x04, 4);
    return hi * 2 ** 32 + lo;
  }
  /** Resets, negotiates `features` (default: all offered) and returns whether FEATURES_OK stuck. */
  negotiate(features?: number): boolean {
    this.w(0x14, 1, 0);
    this.w(0x14, 1, 1);
    this.w(0x14, 1, 3);
    const f = features ?? this.deviceFeatures();
    this.w(0x08, 4, 0); this.w(0x0c, 4, f % 2 ** 32);
    this.w(0x08, 4, 1); this.w(0x0c, 4, Math.floor(f / 2 ** 32));
    this.w(0x14, 1, 0xb);
    return (this.status & 8) !== 0;
  }
  setupQueue(q: number, ring: Ring): void {
    this.w(0x16, 2, q);
    this.w(0x18, 2, ring.size);
    for (const [off, addr] of [[0x20, ring.desc], [0x28, ring.avail], [0x30, ring.used]] as const) {
      this.w(off, 4, addr % 2 ** 32);
      this.w(off + 4, 4, Math.floor(addr / 2 ** 32));
    }
    this.w(0x1c, 2, 1);
  }
  driverOk(): void { this.w(0x14, 1, 0xf); }
  notify(q: number): void { this.w(0x16, 2, q); this.w(0x3000 + 4 * this.r(0x1e, 2), 2, q); }
  isr(): number { return this.r(0x1000, 1); }
}

/** A legacy (virtio 0.9.5) driver over the I/O BAR. */
export class LegacyDriver {
  readonly port: number;
  constructor(readonly rig: Rig, readonly slot: number) {
    this.port = rig.cfgRead(slot, 0x10, 4) & ~0x3;
  }
  r(off: number, size: 1 | 2 | 4): number { return this.rig.bus.ioRead(this.port + off, size); }
  w(off: number, size: 1 | 2 | 4, v: number): void { this.rig.bus.ioWrite(this.port + off, size, v); }
  /** Legacy queues are placed by a page number with the 4096-aligned legacy layout. */
  setupQueue(q: number, pfn: number): Ring {
    this.w(0x0e, 2, q);
    const size = this.r(0x0c, 2);
    this.w(0x08, 4, pfn);
    return new Ring(this.rig.mem, pfn * 4096, size);
  }
}
