// The legacy virtio PCI interface (virtio 1.x §4.1.4.8, "Legacy Interfaces: A Note on
// PCI Device Layout"): an I/O BAR with 32-bit features, queues placed by one page
// frame number with the legacy ring layout (§2.7.2: used ring aligned to 4096), and
// the device configuration at 0x14 (no MSI-X).

import type { AccessSize } from '../../cpu/interfaces';
import type { IoHandler } from '../io-region';
import { featureWord } from './constants';
import { readLe } from './pci-modern';
import type { VirtioTransport } from './transport';

export const LEGACY_CONFIG_OFF = 0x14;
const LEGACY_ALIGN = 4096;

/** The I/O BAR size for a device config of `cfgLen` bytes (a power of two, at least 32). */
export function legacyBarSize(cfgLen: number): number {
  let size = 32;
  while (size < LEGACY_CONFIG_OFF + cfgLen) size *= 2;
  return size;
}

export class LegacyRegisters implements IoHandler {
  queueSel = 0;

  constructor(private readonly t: VirtioTransport) {}

  read(off: number, size: AccessSize): number {
    if (off === 0x13) return this.t.readIsr();
    return this.peek(off, size);
  }

  peek(off: number, size: AccessSize): number {
    const t = this.t;
    const q = t.queues[this.queueSel];
    if (off >= LEGACY_CONFIG_OFF) {
      const cfg = t.device.config;
      return readLe(new DataView(cfg.buffer, cfg.byteOffset, cfg.byteLength), off - LEGACY_CONFIG_OFF, size, cfg.length);
    }
    const regs = new DataView(new ArrayBuffer(LEGACY_CONFIG_OFF));
    // Host features are what the legacy interface offers: no VERSION_1 (bit 32).
    regs.setUint32(0x00, featureWord(t.device.features, 0) | 0x30000000, true);
    regs.setUint32(0x04, featureWord(t.driverFeatures, 0), true);
    regs.setUint32(0x08, q?.ready ? Math.floor(q.desc / LEGACY_ALIGN) : 0, true);
    regs.setUint16(0x0c, q ? q.maxSize : 0, true);
    regs.setUint16(0x0e, this.queueSel, true);
    regs.setUint8(0x12, t.status);
    regs.setUint8(0x13, t.isr);
    return readLe(regs, off, size, LEGACY_CONFIG_OFF);
  }

  write(off: number, size: AccessSize, value: number): void {
    const t = this.t;
    t.legacy = true;
    if (off >= LEGACY_CONFIG_OFF) { t.device.writeConfig(off - LEGACY_CONFIG_OFF, size, value); return; }
    // Legacy registers are written with their own width; narrower pieces are ignored.
    switch (off) {
      case 0x04: if (size === 4 && !(t.status & 4)) t.driverFeatures = value >>> 0; break;
      case 0x08: if (size === 4) this.setPfn(value >>> 0); break;
      case 0x0e: if (size >= 2) this.queueSel = value & 0xffff; break;
      case 0x10: if (size >= 2) t.notify(value & 0xffff); break;
      case 0x12: t.writeStatus(value & 0xff); if (t.status === 0) this.queueSel = 0; break;
      default: break;
    }
  }

  /** A queue's page frame number: the whole ring in one block (§2.7.2 legacy layout). 0 turns it off. */
  private setPfn(pfn: number): void {
    const q = this.t.queues[this.queueSel];
    if (!q) return;
    if (pfn === 0) { q.reset(); return; }
    if (q.ready) return;
    q.size = q.maxSize;
    q.desc = pfn * LEGACY_ALIGN;
    q.avail = q.desc + 16 * q.size;
    q.used = Math.ceil((q.avail + 6 + 2 * q.size) / LEGACY_ALIGN) * LEGACY_ALIGN;
    this.t.enableQueue(q);
  }
}
