// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, §3.2.2.3.2):
// CONFIG_ADDRESS at 0xCF8 (32-bit accesses only; bit 31 enable, bus 23-16,
// device 15-11, function 10-8, register 7-2) and CONFIG_DATA at 0xCFC-0xCFF.
// A registry of functions with 256-byte configuration spaces and BARs, which are
// mapped on the I/O bus while the command register enables their space.

import type { AccessSize } from '../cpu/interfaces';
import type { IoBus, IoRegion } from './bus';
import { checkState, type Device, type DeviceState } from './device';
import { type IoHandler, sizeMask } from './io-region';

export interface PciBarSpec {
  kind: 'io' | 'mem32';
  /** Power of two, at least 4 (I/O) or 16 (memory). */
  size: number;
  handler: IoHandler;
  prefetchable?: boolean;
}

interface BarSlot {
  spec: PciBarSpec;
  region: IoRegion | null;
}

export class PciFunction {
  readonly config = new Uint8Array(256);
  /** Writable bits of each config byte. */
  readonly wmask = new Uint8Array(256);
  readonly bars: (BarSlot | null)[] = [null, null, null, null, null, null];
  readonly dv = new DataView(this.config.buffer);

  constructor(
    readonly name: string,
    readonly bus: number,
    readonly device: number,
    readonly fn: number,
    ids: { vendor: number; device: number; classCode: number; revision?: number; headerType?: number },
  ) {
    this.dv.setUint16(0x00, ids.vendor, true);
    this.dv.setUint16(0x02, ids.device, true);
    this.config[0x08] = ids.revision ?? 0;
    this.config[0x09] = ids.classCode & 0xff;
    this.config[0x0a] = (ids.classCode >> 8) & 0xff;
    this.config[0x0b] = (ids.classCode >> 16) & 0xff;
    this.config[0x0e] = ids.headerType ?? 0;
    // Command: I/O, memory, bus master, SERR, INTx disable are writable.
    this.wmask[0x04] = 0x07;
    this.wmask[0x05] = 0x05;
    this.wmask[0x0c] = 0xff; // cache line size
    this.wmask[0x0d] = 0xff; // latency timer
    this.wmask[0x3c] = 0xff; // interrupt line
  }

  get bdf(): number {
    return (this.bus << 8) | (this.device << 3) | this.fn;
  }

  addBar(index: number, spec: PciBarSpec): void {
    if (spec.size & (spec.size - 1) || spec.size < (spec.kind === 'io' ? 4 : 16)) {
      throw new Error(`pci ${this.name}: bad BAR size ${spec.size}`);
    }
    this.bars[index] = { spec, region: null };
    const off = 0x10 + 4 * index;
    const mask = ~(spec.size - 1) >>> 0;
    const typeBits = spec.kind === 'io' ? 0x1 : spec.prefetchable ? 0x8 : 0x0;
    this.dv.setUint32(off, typeBits, true);
    // Only the address bits above the size are writable: this is how sizing works
    // (write all ones, read back the mask; PCI spec §6.2.5.1).
    const wm = spec.kind === 'io' ? mask & ~0x3 : mask & ~0xf;
    for (let i = 0; i < 4; i++) this.wmask[off + i] = (wm >>> (8 * i)) & 0xff;
  }

  barAddress(index: number): number {
    const slot = this.bars[index];
    if (!slot) return 0;
    const raw = this.dv.getUint32(0x10 + 4 * index, true);
    return (slot.spec.kind === 'io' ? raw & ~0x3 : raw & ~0xf) >>> 0;
  }

  readConfig(off: number, size: AccessSize): number {
    if (size === 4) return this.dv.getUint32(off, true);
    if (size === 2) return this.dv.getUint16(off, true);
    return this.config[off]!;
  }

  writeConfig(off: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = off + i;
      const m = this.wmask[o]!;
      const b = (value >>> (8 * i)) & 0xff;
      this.config[o] = (this.config[o]! & ~m) | (b & m);
    }
  }
}

export interface PciState extends DeviceState {
  device: 'pci-host';
  version: 1;
  address: number;
  configs: { bdf: number; config: number[] }[];
}

export class PciHost implements Device<PciState> {
  readonly name = 'pci-host';
  private address = 0;
  private readonly functions = new Map<number, PciFunction>();
  readonly hostBridge: PciFunction;

  constructor(private readonly ioBus: IoBus) {
    // 00:00.0 host bridge: Intel 82441FX (i440FX) PMC, class 06/00/00.
    this.hostBridge = new PciFunction('host-bridge', 0, 0, 0, { vendor: 0x8086, device: 0x1237, classCode: 0x060000, revision: 2 });
    this.register(this.hostBridge);
  }

  reset(): void {
    this.address = 0;
    for (const f of this.functions.values()) {
      f.config[0x04] = 0;
      f.config[0x05] = 0;
      this.remapBars(f);
    }
  }

  register(fn: PciFunction): void {
    if (this.functions.has(fn.bdf)) throw new Error(`pci: ${fn.name}: slot ${fn.bdf.toString(16)} taken`);
    this.functions.set(fn.bdf, fn);
  }

  function(bus: number, device: number, fn: number): PciFunction | undefined {
    return this.functions.get((bus << 8) | (device << 3) | fn);
  }

  attach(bus: IoBus): void {
    bus.registerPorts('pci-config-address', 0xcf8, 4, {
      // Only dword accesses reach CONFIG_ADDRESS; narrower ones are other registers.
      read: (off, size) => (off === 0 && size === 4 ? this.address : sizeMask(size)),
      peek: (off, size) => (off === 0 && size === 4 ? this.address : sizeMask(size)),
      write: (off, size, v) => {
        if (off === 0 && size === 4) this.address = (v & 0x80fffffc) >>> 0;
      },
    });
    bus.registerPorts('pci-config-data', 0xcfc, 4, {
      read: (off, size) => this.dataAccess(off, size, null),
      peek: (off, size) => this.dataAccess(off, size, null),
      write: (off, size, v) => void this.dataAccess(off, size, v),
    }, { unaligned: true });
  }

  private dataAccess(off: number, size: AccessSize, value: number | null): number {
    const a = this.address;
    if (!(a & 0x80000000)) return sizeMask(size);
    const fn = this.functions.get((a >> 8) & 0xffff);
    const reg = (a & 0xfc) + off;
    if (!fn || reg + size > 256) return sizeMask(size);
    if (value === null) return fn.readConfig(reg, size);
    fn.writeConfig(reg, size, value);
    if (reg < 0x28 && reg + size > 0x04) this.remapBars(fn);
    return 0;
  }

  /** (Re)map every BAR of `fn` according to its address and the command register. */
  remapBars(fn: PciFunction): void {
    const cmd = fn.config[0x04]!;
    fn.bars.forEach((slot, i) => {
      if (!slot) return;
      const enabled = slot.spec.kind === 'io' ? (cmd & 1) !== 0 : (cmd & 2) !== 0;
      const base = fn.barAddress(i);
      const want = enabled && base !== 0;
      if (slot.region && (!want || slot.region.base !== base)) {
        this.ioBus.unregister(slot.region);
        slot.region = null;
      }
      if (want && !slot.region) {
        const name = `${fn.name}-bar${i}`;
        try {
          slot.region = slot.spec.kind === 'io'
            ? this.ioBus.registerPorts(name, base, slot.spec.size, slot.spec.handler)
            : this.ioBus.registerMmio(name, base, slot.spec.size, slot.spec.handler);
        } catch {
          // The guest placed the BAR over another device (or past the port space): on
          // hardware the decode conflict is undefined; here the BAR stays unmapped until
          // it is moved, rather than the guest taking the emulator down.
          slot.region = null;
        }
      }
    });
  }

  saveState(): PciState {
    return {
      device: 'pci-host', version: 1, address: this.address,
      configs: [...this.functions.values()].map((f) => ({ bdf: f.bdf, config: [...f.config] })),
    };
  }

  loadState(s: PciState): void {
    checkState(s, 'pci-host', 1);
    this.address = s.address;
    for (const c of s.configs) {
      const f = this.functions.get(c.bdf);
      if (!f) throw new Error(`pci loadState: no function ${c.bdf.toString(16)}`);
      f.config.set(c.config);
      this.remapBars(f);
    }
  }
}
