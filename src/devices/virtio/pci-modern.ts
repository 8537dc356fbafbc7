// The modern virtio PCI register file (virtio 1.x §4.1.4), all in one memory BAR:
//   0x0000 common configuration (§4.1.4.3)    0x1000 ISR status (§4.1.4.5)
//   0x2000 device configuration (§4.1.4.6)    0x3000 notifications, 4 bytes per queue (§4.1.4.4)

import type { AccessSize } from '../../cpu/interfaces';
import type { IoHandler } from '../io-region';
import { featureWord } from './constants';
import type { VirtioTransport } from './transport';

export const MODERN_BAR_SIZE = 0x4000;
export const COMMON_OFF = 0x0000, COMMON_LEN = 0x38;
export const ISR_OFF = 0x1000;
export const DEVICE_OFF = 0x2000;
export const NOTIFY_OFF = 0x3000;
export const NOTIFY_MULTIPLIER = 4;
const NO_VECTOR = 0xffff;

/** Common configuration fields: offset, width, writable. */
const FIELDS: [number, number, boolean][] = [
  [0x00, 4, true], [0x04, 4, false], [0x08, 4, true], [0x0c, 4, true], [0x10, 2, true], [0x12, 2, false],
  [0x14, 1, true], [0x15, 1, false], [0x16, 2, true], [0x18, 2, true], [0x1a, 2, true], [0x1c, 2, true],
  [0x1e, 2, false], [0x20, 8, true], [0x28, 8, true], [0x30, 8, true],
];

export class ModernRegisters implements IoHandler {
  private deviceFeatureSel = 0;
  private driverFeatureSel = 0;
  private queueSel = 0;
  private readonly scratch = new DataView(new ArrayBuffer(COMMON_LEN));

  constructor(private readonly t: VirtioTransport) {}

  reset(): void {
    this.deviceFeatureSel = this.driverFeatureSel = this.queueSel = 0;
  }

  get selectors(): number[] {
    return [this.deviceFeatureSel, this.driverFeatureSel, this.queueSel];
  }

  set selectors(s: number[]) {
    [this.deviceFeatureSel, this.driverFeatureSel, this.queueSel] = [s[0] ?? 0, s[1] ?? 0, s[2] ?? 0];
  }

  read(off: number, size: AccessSize): number {
    if (off < COMMON_LEN) {
      this.snapshot();
      return readLe(this.scratch, off, size, COMMON_LEN);
    }
    if (off >= ISR_OFF && off < ISR_OFF + 4) return off === ISR_OFF ? this.t.readIsr() : 0;
    return this.peekOther(off, size);
  }

  peek(off: number, size: AccessSize): number {
    if (off < COMMON_LEN) {
      this.snapshot();
      return readLe(this.scratch, off, size, COMMON_LEN);
    }
    if (off === ISR_OFF) return this.t.isr;
    return this.peekOther(off, size);
  }

  private peekOther(off: number, size: AccessSize): number {
    const cfg = this.t.device.config;
    if (off >= DEVICE_OFF && off < DEVICE_OFF + cfg.length) {
      return readLe(new DataView(cfg.buffer, cfg.byteOffset, cfg.byteLength), off - DEVICE_OFF, size, cfg.length);
    }
    return 0;
  }

  write(off: number, size: AccessSize, value: number): void {
    if (off < COMMON_LEN) { this.writeCommon(off, size, value); return; }
    if (off >= NOTIFY_OFF && off < NOTIFY_OFF + NOTIFY_MULTIPLIER * this.t.queues.length) {
      this.t.notify(((off - NOTIFY_OFF) / NOTIFY_MULTIPLIER) | 0);
      return;
    }
    const cfgLen = this.t.device.config.length;
    if (off >= DEVICE_OFF && off < DEVICE_OFF + cfgLen) this.t.device.writeConfig(off - DEVICE_OFF, size, value);
  }

  /** The common configuration as the driver would read it now. */
  private snapshot(): void {
    const d = this.scratch, t = this.t;
    const q = t.queues[this.queueSel];
    d.setUint32(0x00, this.deviceFeatureSel, true);
    d.setUint32(0x04, featureWord(t.deviceFeatures, this.deviceFeatureSel), true);
    d.setUint32(0x08, this.driverFeatureSel, true);
    d.setUint32(0x0c, featureWord(t.driverFeatures, this.driverFeatureSel), true);
    d.setUint16(0x10, NO_VECTOR, true);
    d.setUint16(0x12, t.queues.length, true);
    d.setUint8(0x14, t.status);
    d.setUint8(0x15, t.configGeneration & 0xff);
    d.setUint16(0x16, this.queueSel, true);
    d.setUint16(0x18, q ? q.size : 0, true);
    d.setUint16(0x1a, NO_VECTOR, true);
    d.setUint16(0x1c, q?.ready ? 1 : 0, true);
    d.setUint16(0x1e, q ? this.queueSel : 0, true);
    setU64(d, 0x20, q ? q.desc : 0);
    setU64(d, 0x28, q ? q.avail : 0);
    setU64(d, 0x30, q ? q.used : 0);
  }

  /** Merges the written bytes into the current values, then applies each field touched. */
  private writeCommon(off: number, size: AccessSize, value: number): void {
    this.t.legacy = false;
    this.snapshot();
    const d = this.scratch;
    for (let i = 0; i < size && off + i < COMMON_LEN; i++) d.setUint8(off + i, (value >>> (8 * i)) & 0xff);
    for (const [fo, fw, writable] of FIELDS) {
      if (!writable || fo + fw <= off || fo >= off + size) continue;
      this.apply(fo, d);
    }
  }

  private apply(fo: number, d: DataView): void {
    const t = this.t;
    const q = t.queues[this.queueSel];
    // Ring layout and size may change only while the queue is off (§4.1.4.3.2).
    const qWritable = q !== undefined && !q.ready;
    switch (fo) {
      case 0x00: this.deviceFeatureSel = d.getUint32(0, true); break;
      case 0x08: this.driverFeatureSel = d.getUint32(8, true); break;
      case 0x0c: {
        const v = d.getUint32(0x0c, true);
        if (this.driverFeatureSel > 1 || t.status & 8) break; // no writes after FEATURES_OK
        const lo = featureWord(t.driverFeatures, 0), hi = featureWord(t.driverFeatures, 1);
        t.driverFeatures = this.driverFeatureSel === 0 ? hi * 2 ** 32 + v : v * 2 ** 32 + lo;
        break;
      }
      case 0x14: t.writeStatus(d.getUint8(0x14)); if (t.status === 0) this.reset(); break;
      case 0x16: this.queueSel = d.getUint16(0x16, true); break;
      case 0x18: if (qWritable) q.size = d.getUint16(0x18, true); break;
      case 0x1c: if (q && !q.ready && d.getUint16(0x1c, true) === 1) t.enableQueue(q); break;
      case 0x20: if (qWritable) q.desc = getU64(d, 0x20); break;
      case 0x28: if (qWritable) q.avail = getU64(d, 0x28); break;
      case 0x30: if (qWritable) q.used = getU64(d, 0x30); break;
      default: break; // MSI-X vectors: no MSI-X, NO_VECTOR stays
    }
  }
}

function setU64(d: DataView, off: number, v: number): void {
  d.setUint32(off, v % 2 ** 32 >>> 0, true);
  d.setUint32(off + 4, Math.floor(v / 2 ** 32) >>> 0, true);
}

function getU64(d: DataView, off: number): number {
  return d.getUint32(off + 4, true) * 2 ** 32 + d.getUint32(off, true);
}

/** A little-endian read of `size` bytes at `off`; bytes past `len` read as 0. */
export function readLe(d: DataView, off: number, size: number, len: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v << 8) | (off + i < len ? d.getUint8(off + i) : 0);
  return v >>> 0;
}
