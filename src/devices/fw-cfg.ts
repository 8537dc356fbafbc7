// Minimal QEMU firmware configuration device, traditional I/O interface (QEMU
// docs/specs/fw_cfg.rst): 16-bit selector at 0x510, byte-wide data at 0x511.
// Selecting a key rewinds the data offset; reads past an item's end return 0.
// No DMA interface (the ID's bit 1 stays clear).

import type { AccessSize } from '../cpu/interfaces';
import type { IoBus } from './bus';
import { checkState, type Device, type DeviceState } from './device';

export const FW_CFG_SIGNATURE = 0x0000;
export const FW_CFG_ID = 0x0001;
export const FW_CFG_UUID = 0x0002;
export const FW_CFG_RAM_SIZE = 0x0003;
export const FW_CFG_NB_CPUS = 0x0005;
export const FW_CFG_MAX_CPUS = 0x000f;
export const FW_CFG_FILE_DIR = 0x0019;
export const FW_CFG_FILE_FIRST = 0x0020;

export interface FwCfgOptions {
  ramBytes: number;
  cpus: number;
}

export interface FwCfgState extends DeviceState {
  device: 'fw_cfg';
  version: 1;
  selector: number;
  offset: number;
}

function le(bytes: number, v: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = BigInt(v);
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

export class FwCfg implements Device<FwCfgState> {
  readonly name = 'fw_cfg';
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; key: number; size: number }[] = [];
  private selector = 0;
  private offset = 0;

  constructor(opts: FwCfgOptions) {
    this.items.set(FW_CFG_SIGNATURE, Uint8Array.from('QEMU', (c) => c.charCodeAt(0)));
    this.items.set(FW_CFG_ID, le(4, 1)); // bit 0: traditional interface
    this.items.set(FW_CFG_UUID, new Uint8Array(16));
    this.items.set(FW_CFG_RAM_SIZE, le(8, opts.ramBytes));
    this.items.set(FW_CFG_NB_CPUS, le(2, opts.cpus));
    this.items.set(FW_CFG_MAX_CPUS, le(2, opts.cpus));
    this.rebuildDirectory();
  }

  reset(): void {
    this.selector = 0;
    this.offset = 0;
  }

  setItem(key: number, data: Uint8Array): void {
    this.items.set(key & 0x3fff, data);
  }

  /** Add a named file (listed in the FW_CFG_FILE_DIR directory); returns its key. */
  addFile(name: string, data: Uint8Array): number {
    if (name.length > 55) throw new Error(`fw_cfg: file name too long: ${name}`);
    const key = FW_CFG_FILE_FIRST + this.files.length;
    this.files.push({ name, key, size: data.length });
    this.items.set(key, data);
    this.rebuildDirectory();
    return key;
  }

  private rebuildDirectory(): void {
    // Directory: u32 count (big-endian), then {u32 size, u16 select, u16 reserved, char name[56]}, all big-endian.
    const dir = new Uint8Array(4 + 64 * this.files.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, this.files.length);
    this.files.forEach((f, i) => {
      const o = 4 + 64 * i;
      dv.setUint32(o, f.size);
      dv.setUint16(o + 4, f.key);
      for (let j = 0; j < f.name.length; j++) dir[o + 8 + j] = f.name.charCodeAt(j);
    });
    this.items.set(FW_CFG_FILE_DIR, dir);
  }

  attach(bus: IoBus, base = 0x510): void {
    bus.registerPorts(this.name, base, 2, {
      read: (off, size) => this.read(off, size, true),
      peek: (off, size) => this.read(off, size, false),
      write: (off, size, v) => {
        if (off === 0) this.select(v & (size === 1 ? 0xff : 0xffff));
        // Writes to the data port are ignored (deprecated in QEMU since 2.4).
      },
    }, { unaligned: true });
  }

  private select(key: number): void {
    this.selector = key;
    this.offset = 0;
  }

  private read(off: number, size: AccessSize, sideEffects: boolean): number {
    if (off === 0) return size === 1 ? 0xff : 0xffff;
    const item = this.items.get(this.selector & 0x3fff);
    let v = 0;
    let o = this.offset;
    for (let i = 0; i < size; i++) {
      v |= (item && o < item.length ? item[o]! : 0) << (8 * i);
      o++;
    }
    if (sideEffects) this.offset = o;
    return v >>> 0;
  }

  saveState(): FwCfgState {
    return { device: 'fw_cfg', version: 1, selector: this.selector, offset: this.offset };
  }

  loadState(s: FwCfgState): void {
    checkState(s, 'fw_cfg', 1);
    this.selector = s.selector;
    this.offset = s.offset;
  }
}
