// A split virtqueue (virtio 1.x §2.7): descriptor table, available ring, used ring.
// The ring areas are checked against guest RAM once, when the queue is enabled; every
// descriptor's address and length is checked when its chain is popped. Anything
// malformed throws VirtioGuestError with a dump, before a single data byte moves.

import { VirtqChain, type Segment } from './chain';
import { AVAIL_F_NO_INTERRUPT, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE } from './constants';
import { type GuestRam, VirtioGuestError } from './guest-ram';

export interface VirtqueueState {
  size: number; desc: number; avail: number; used: number; ready: boolean; eventIdx: boolean; indirect: boolean;
  lastAvail: number; usedIdx: number; signalledUsed: number;
}

/** Largest indirect table accepted (entries); bounds the work one chain can cause. */
export const MAX_INDIRECT = 1024;
const U32_MAX = 0xffffffff;

export class SplitVirtqueue {
  /** Size the driver chose (a power of two, at most maxSize). */
  size: number;
  desc = 0;
  avail = 0;
  used = 0;
  ready = false;
  /** Negotiated ring features, set by the transport at FEATURES_OK / DRIVER_OK. */
  eventIdx = false;
  indirect = false;
  lastAvail = 0;
  usedIdx = 0;
  /** Used index when the driver was last interrupted (VIRTIO_F_EVENT_IDX, §2.7.10). */
  private signalledUsed = 0;

  constructor(
    private readonly ram: GuestRam,
    readonly index: number,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  reset(): void {
    this.size = this.maxSize;
    this.desc = this.avail = this.used = 0;
    this.ready = false;
    this.eventIdx = this.indirect = false;
    this.lastAvail = this.usedIdx = this.signalledUsed = 0;
  }

  /**
   * Checks the ring layout against RAM and makes the queue live (§2.7: alignment 16 / 2 / 4,
   * sizes 16·n, 6+2·n, 6+8·n bytes with the event-index words included).
   */
  enable(): void {
    const n = this.size;
    if (n < 1 || n > this.maxSize || (n & (n - 1)) !== 0) throw this.error(`queue size ${n} is not a power of two in 1..${this.maxSize}`);
    const areas: [string, number, number, number][] = [
      ['descriptor table', this.desc, 16 * n, 16],
      ['available ring', this.avail, 6 + 2 * n, 2],
      ['used ring', this.used, 6 + 8 * n, 4],
    ];
    for (const [what, addr, len, align] of areas) {
      if (!this.ram.ok(addr, len)) throw this.error(`${what} of ${len} bytes at 0x${addr.toString(16)} is outside guest RAM`);
      if (addr % align) throw this.error(`${what} at 0x${addr.toString(16)} is not ${align}-byte aligned`);
    }
    this.ready = true;
    this.lastAvail = this.ram.u16(this.avail + 2);
    this.usedIdx = this.ram.u16(this.used + 2);
    this.signalledUsed = this.usedIdx;
  }

  availIdx(): number {
    return this.ram.u16(this.avail + 2);
  }

  /** Whether the driver has made chains available that are not popped yet. */
  hasWork(): boolean {
    return this.ready && this.availIdx() !== this.lastAvail;
  }

  /** The next available chain, or null. Throws VirtioGuestError on a malformed ring or chain. */
  pop(): VirtqChain | null {
    if (!this.ready) return null;
    const idx = this.availIdx();
    const pending = (idx - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > this.size) throw this.error(`available index ${idx} is ${pending} entries ahead of ${this.lastAvail} (queue size ${this.size})`);
    const head = this.ram.u16(this.avail + 4 + 2 * (this.lastAvail % this.size));
    const chain = this.walk(head);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    // avail_event: ask to be notified when the driver adds the next chain (§2.7.10).
    if (this.eventIdx) this.ram.setU16(this.used + 4 + 8 * this.size, this.lastAvail);
    return chain;
  }

  /** Returns a chain to the driver with `len` bytes written into its writable part. */
  push(head: number, len: number): void {
    const e = this.used + 4 + 8 * (this.usedIdx % this.size);
    this.ram.setU32(e, head);
    this.ram.setU32(e + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    // The element before the index: a driver that sees the new index sees the element.
    this.ram.setU16(this.used + 2, this.usedIdx);
  }

  /** Whether the driver wants an interrupt for the chains pushed since the last one (§2.7.7, §2.7.10). */
  shouldInterrupt(): boolean {
    const old = this.signalledUsed, now = this.usedIdx;
    this.signalledUsed = now;
    if (old === now) return false;
    if (!this.eventIdx) return (this.ram.u16(this.avail) & AVAIL_F_NO_INTERRUPT) === 0;
    const event = this.ram.u16(this.avail + 4 + 2 * this.size);
    // vring_need_event: did the used index step over used_event since `old`?
    return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  /**
   * Follows the chain starting at descriptor `head` (§2.7.5): at most one level of
   * indirection (§2.7.5.3), readable before writable, every range inside RAM, no
   * more descriptors than the table holds (so a loop is caught), total length below 2^32.
   */
  private walk(head: number): VirtqChain {
    const readable: Segment[] = [], writable: Segment[] = [];
    const seen: string[] = [];
    let table = this.desc, count = this.size, i = head, steps = 0, inIndirect = false, total = 0;
    const fail = (why: string): VirtioGuestError => this.error(`chain at head ${head}: ${why}`, seen);
    for (;;) {
      if (i >= count) throw fail(`descriptor index ${i} is outside the ${inIndirect ? 'indirect table' : 'descriptor table'} of ${count}`);
      if (++steps > count) throw fail(`more than ${count} descriptors: a loop${inIndirect ? ' in the indirect table' : ''}`);
      const a = table + 16 * i;
      const lo = this.ram.u32(a), hi = this.ram.u32(a + 4), len = this.ram.u32(a + 8);
      const flags = this.ram.u16(a + 12), next = this.ram.u16(a + 14);
      seen.push(`${inIndirect ? 'indirect' : 'desc'}[${i}] addr=0x${hi ? hi.toString(16) + lo.toString(16).padStart(8, '0') : lo.toString(16)} len=${len} flags=0x${flags.toString(16)} next=${next}`);
      if (seen.length > 16) seen.splice(0, 1);
      if (hi !== 0) throw fail(`address above 4 GiB (guest RAM is ${this.ram.size} bytes)`);
      if (flags & DESC_F_INDIRECT) {
        if (!this.indirect) throw fail('indirect descriptor without VIRTIO_F_INDIRECT_DESC negotiated');
        if (inIndirect) throw fail('indirect descriptor inside an indirect table');
        if (flags & DESC_F_NEXT) throw fail('indirect descriptor with NEXT set');
        if (len === 0 || len % 16 !== 0 || len / 16 > MAX_INDIRECT) throw fail(`indirect table length ${len} is not a multiple of 16 in 16..${16 * MAX_INDIRECT}`);
        if (!this.ram.ok(lo, len)) throw fail(`indirect table of ${len} bytes at 0x${lo.toString(16)} is outside guest RAM`);
        table = lo; count = len / 16; i = 0; steps = 0; inIndirect = true;
        continue;
      }
      if (!this.ram.ok(lo, len)) throw fail(`buffer of ${len} bytes at 0x${lo.toString(16)} is outside guest RAM`);
      total += len;
      if (total > U32_MAX) throw fail('total length exceeds 2^32 - 1 bytes');
      if (flags & DESC_F_WRITE) writable.push({ addr: lo, len });
      else if (writable.length) throw fail('device-readable descriptor after a device-writable one');
      else readable.push({ addr: lo, len });
      if (!(flags & DESC_F_NEXT)) break;
      i = next;
    }
    return new VirtqChain(head, readable, writable);
  }

  saveState(): VirtqueueState {
    return {
      size: this.size, desc: this.desc, avail: this.avail, used: this.used, ready: this.ready, eventIdx: this.eventIdx,
      indirect: this.indirect, lastAvail: this.lastAvail, usedIdx: this.usedIdx, signalledUsed: this.signalledUsed,
    };
  }

  /** Restores a saved queue; a live one is checked against RAM again (a state file is input too). */
  loadState(s: VirtqueueState): void {
    this.reset();
    Object.assign(this, { size: s.size, desc: s.desc, avail: s.avail, used: s.used, eventIdx: s.eventIdx, indirect: s.indirect });
    if (s.ready) this.enable();
    this.lastAvail = s.lastAvail & 0xffff;
    this.usedIdx = s.usedIdx & 0xffff;
    this.signalledUsed = s.signalledUsed & 0xffff;
  }

  /** The queue's registers, for error dumps. */
  describe(): string {
    const avail = this.ready ? ` avail.idx=${this.availIdx()}` : '';
    return `queue ${this.index}: size=${this.size} desc=0x${this.desc.toString(16)} avail=0x${this.avail.toString(16)} used=0x${this.used.toString(16)} ready=${this.ready} last_avail=${this.lastAvail} used.idx=${this.usedIdx}${avail} event_idx=${this.eventIdx} indirect=${this.indirect}`;
  }

  private error(why: string, seen: string[] = []): VirtioGuestError {
    return new VirtioGuestError(`${why}\n  ${this.describe()}${seen.map((s) => `\n    ${s}`).join('')}`);
  }
}
