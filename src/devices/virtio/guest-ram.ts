// Device access to guest RAM (DMA) for virtio: every guest-supplied range is checked
// against RAM (addr + len overflow included, PhysMemory.rangeOk) before any byte moves,
// and writes drop the decoded code / cached translations that depend on the frames
// they land in (PAGE_TRACKED, DESIGN.md "Memory and DMA") before the bytes land.

import { PAGE_TRACKED, type PhysMemory } from '../../mmu/physmem';

/** A guest did something no hardware allows with a virtio structure (DESIGN.md: a guest error). */
export class VirtioGuestError extends Error {}

export class GuestRam {
  constructor(readonly mem: PhysMemory) {}

  get size(): number {
    return this.mem.ramSize;
  }

  /** Whether [addr, addr+len) lies wholly inside RAM (no wrap-around, no overflow). */
  ok(addr: number, len: number): boolean {
    return this.mem.rangeOk(addr, len);
  }

  /** A view of guest bytes the device will only read. */
  readView(addr: number, len: number): Uint8Array {
    if (!this.mem.rangeOk(addr, len)) throw new VirtioGuestError(`read of ${len} bytes at 0x${addr.toString(16)} is outside guest RAM`);
    return this.mem.ram.subarray(addr, addr + len);
  }

  /**
   * A view of guest bytes the device is about to write (a disk read lands straight in
   * it): dependents of tracked frames in the range are invalidated first.
   */
  writeView(addr: number, len: number): Uint8Array {
    if (!this.mem.rangeOk(addr, len)) throw new VirtioGuestError(`write of ${len} bytes at 0x${addr.toString(16)} is outside guest RAM`);
    this.invalidate(addr, len);
    return this.mem.ram.subarray(addr, addr + len);
  }

  private invalidate(addr: number, len: number): void {
    if (len === 0) return;
    const kinds = this.mem.pageKind;
    const last = (addr + len - 1) >>> 12;
    for (let f = addr >>> 12; f <= last; f++) {
      if (!(kinds[f]! & PAGE_TRACKED)) continue;
      const lo = Math.max(addr, f * 4096), hi = Math.min(addr + len, (f + 1) * 4096);
      this.mem.onTrackedWrite(f, lo - f * 4096, hi - lo);
    }
  }

  /** Little-endian loads/stores inside ranges the caller has already checked. */
  u16(addr: number): number {
    return this.mem.view.getUint16(addr, true);
  }
  u32(addr: number): number {
    return this.mem.view.getUint32(addr, true);
  }
  setU16(addr: number, v: number): void {
    this.invalidate(addr, 2);
    this.mem.view.setUint16(addr, v, true);
  }
  setU32(addr: number, v: number): void {
    this.invalidate(addr, 4);
    this.mem.view.setUint32(addr, v >>> 0, true);
  }
}
