// The virtio devices of a machine: disks, the console and the entropy source as
// transitional virtio PCI functions on bus 0, with their BARs, INTx lines and the
// PIC's level-trigger bits set up the way firmware would (there is no BIOS: Linux
// booted with `pci=conf1` keeps the BARs it finds and takes each device's IRQ from
// the Interrupt Line register).

import type { AioContext } from '../../aio/aio-context';
import type { PhysMemory } from '../../mmu/physmem';
import type { IoBus } from '../bus';
import type { CharBackend } from '../chardev';
import type { PciHost } from '../pci';
import type { PicPair } from '../pic';
import { VirtioBlk } from './blk';
import { VirtioConsole } from './console';
import type { VirtioContext, VirtioDevice } from './device';
import { DiskImage } from './disk-image';
import { GuestRam } from './guest-ram';
import { LEGACY_BAR, MODERN_BAR, VirtioPciDeviceState, VirtioPciFunction } from './pci-function';
import type { Device, DeviceState } from '../device';
import { type RandomSource, VirtioRng } from './rng';
import { VirtioTransport } from './transport';

export { DiskImage, DiskImageError, detectImageFormat } from './disk-image';
export { VirtioBlk } from './blk';
export { VirtioConsole } from './console';
export { VirtioRng } from './rng';
export { VirtioTransport } from './transport';
export { VirtioPciFunction, VirtioPciDeviceState, type VirtioPciState } from './pci-function';

export const MAX_DISKS = 4;
/** ISA IRQs free on this PC (no IDE, no LPT, no floppy), one per virtio function. */
export const VIRTIO_IRQS = [5, 9, 10, 11, 14, 15];
/** First PCI slot (device number) used; 0 is the host bridge. */
export const FIRST_SLOT = 1;
const IO_BASE = 0xc000, IO_STRIDE = 0x100;
/** Modern BARs go above the largest RAM (3 GiB) and below the local APIC. */
const MMIO_BASE = 0xe0000000, MMIO_STRIDE = 0x10000;

export interface DiskSpec {
  path: string;
  readOnly?: boolean;
}

export interface VirtioSetup {
  aio: AioContext;
  mem: PhysMemory;
  bus: IoBus;
  pci: PciHost;
  pic: PicPair;
  deterministic: boolean;
  kick: () => void;
  report: (message: string) => void;
  /** Already opened (see DiskImage.open), in /dev/vda.. order. */
  disks: DiskImage[];
  /** The console backend for hvc0, or null for no virtio console. */
  console: CharBackend | null;
  rng: boolean;
  /** virtio-rng's source when runs must be reproducible (the machine's seeded PRNG); null: host randomness. */
  random?: RandomSource | null;
}

export class VirtioDevices {
  readonly blk: VirtioBlk[] = [];
  readonly console: VirtioConsole | null = null;
  readonly rng: VirtioRng | null = null;
  readonly functions: VirtioPciFunction[] = [];

  constructor(s: VirtioSetup) {
    const ctx: VirtioContext = { aio: s.aio, ram: new GuestRam(s.mem), deterministic: s.deterministic, kick: s.kick, report: s.report };
    const devices: VirtioDevice[] = [];
    s.disks.forEach((img, i) => {
      const d = new VirtioBlk(ctx, img, `blk${i} (/dev/vd${String.fromCharCode(97 + i)})`);
      this.blk.push(d);
      devices.push(d);
    });
    if (s.console) devices.push((this.console = new VirtioConsole(ctx, s.console)));
    if (s.rng) devices.push((this.rng = new VirtioRng(ctx, s.random ?? null)));
    if (devices.length > VIRTIO_IRQS.length) throw new Error(`virtio: ${devices.length} devices, only ${VIRTIO_IRQS.length} IRQs`);
    let elcr = 0;
    devices.forEach((dev, k) => {
      const irq = VIRTIO_IRQS[k]!;
      const t = new VirtioTransport(dev, ctx, s.pic.irqLine(irq));
      const fn = new VirtioPciFunction(t, FIRST_SLOT + k, irq);
      s.pci.register(fn);
      // Firmware duty: place the BARs and turn on I/O, memory and bus mastering.
      fn.writeConfig(0x10 + 4 * LEGACY_BAR, 4, IO_BASE + IO_STRIDE * k);
      fn.writeConfig(0x10 + 4 * MODERN_BAR, 4, MMIO_BASE + MMIO_STRIDE * k);
      fn.writeConfig(0x04, 2, 0x0007);
      s.pci.remapBars(fn);
      this.functions.push(fn);
      elcr |= 1 << irq;
    });
    // PCI INTx is level-triggered and active while the ISR is non-zero: mark those IRQs
    // level in the PIIX ELCR (0x4D0/0x4D1), as a BIOS does for the IRQs it routes.
    if (elcr) {
      s.bus.ioWrite(0x4d0, 1, (s.bus.ioRead(0x4d0, 1) | elcr) & 0xff);
      s.bus.ioWrite(0x4d1, 1, (s.bus.ioRead(0x4d1, 1) | (elcr >> 8)) & 0xff);
    }
  }

  /**
   * Snapshot/reset schema objects, one per function (named virtio-pci@NN), for the
   * machine's device list; their PCI config spaces are in the PCI host's state.
   */
  devices(): Device<DeviceState>[] {
    return this.functions.map((f) => new VirtioPciDeviceState(f)) as unknown as Device<DeviceState>[];
  }

  get transports(): VirtioTransport[] {
    return this.functions.map((f) => f.transport);
  }

  /** Counters for --stats. */
  stats(): Record<string, unknown> {
    return {
      blk: this.blk.map((b) => ({ name: b.name, ...b.stats })),
      ...(this.rng ? { rng: this.rng.stats } : {}),
      failures: this.transports.filter((t) => t.failure !== null).map((t) => t.device.name),
    };
  }

  close(): void {
    for (const f of this.functions) f.transport.device.close();
  }
}
