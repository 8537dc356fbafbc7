// Hand-built split virtqueues in a small guest RAM, for the transport and device tests.
import { PhysMemory } from '../../../src/mmu/physmem';
import { GuestRam } from '../../../src/devices/virtio/guest-ram';
import { SplitVirtqueue } from '../../../src/devices/virtio/virtqueue';

export const F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;

export class Ring {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  private idx = 0;

  constructor(readonly mem: PhysMemory, base: number, readonly size: number) {
    this.desc = base;
    this.avail = base + 16 * size;
    this.used = Math.ceil((this.avail + 6 + 2 * size) / 4096) * 4096;
  }

  /** Writes descriptor `i` of `table` (default the ring's table); `addr` may exceed 2^32. */
  setDesc(i: number, addr: number, len: number, flags = 0, next = 0, table = this.desc): void {
    const v = this.mem.view, a = table + 16 * i;
    v.setUint32(a, addr % 2 ** 32, true);
    v.setUint32(a + 4, Math.floor(addr / 2 ** 32), true);
    v.setUint32(a + 8, len >>> 0, true);
    v.setUint16(a + 12, flags, true);
    v.setUint16(a + 14, next, true);
  }

  /** Makes the chain at `head` available and returns the new avail.idx. */
  offer(head: number): number {
    this.mem.view.setUint16(this.avail + 4 + 2 * (this.idx % this.size), head, true);
    this.idx = (this.idx + 1) & 0xffff;
    this.mem.view.setUint16(this.avail + 2, this.idx, true);
    return this.idx;
  }

  setAvailIdx(v: number): void {
    this.idx = v & 0xffff;
    this.mem.view.setUint16(this.avail + 2, this.idx, true);
  }
  setAvailFlags(f: number): void { this.mem.view.setUint16(this.avail, f, true); }
  setUsedEvent(v: number): void { this.mem.view.setUint16(this.avail + 4 + 2 * this.size, v, true); }
  get availEvent(): number { return this.mem.view.getUint16(this.used + 4 + 8 * this.size, true); }
  get usedIdx(): number { return this.mem.view.getUint16(this.used + 2, true); }
  usedElem(i: number): { id: number; len: number } {
    const a = this.used + 4 + 8 * (i % this.size);
    return { id: this.mem.view.getUint32(a, true), len: this.mem.view.getUint32(a + 4, true) };
  }

  /** A SplitVirtqueue over this ring, enabled. */
  queue(opts: { eventIdx?: boolean; indirect?: boolean } = {}): SplitVirtqueue {
    const q = new SplitVirtqueue(new GuestRam(this.mem), 0, this.size);
    q.desc = this.desc; q.avail = this.avail; q.used = this.used;
    q.eventIdx = opts.eventIdx ?? false;
    q.indirect = opts.indirect ?? false;
    q.enable();
    return q;
  }
}

export function smallRam(bytes = 1 << 20): PhysMemory {
  return new PhysMemory(bytes);
}
