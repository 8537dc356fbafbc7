// A descriptor chain popped from a virtqueue: the device-readable segments, then the
// device-writable ones (virtio 1.x §2.7.4: readable elements come first), each one a
// range already checked against guest RAM by the virtqueue, plus scatter/gather copies.

import type { GuestRam } from './guest-ram';

export interface Segment {
  addr: number;
  len: number;
}

export class VirtqChain {
  readLen = 0;
  writeLen = 0;
  constructor(
    readonly head: number,
    readonly readable: Segment[],
    readonly writable: Segment[],
  ) {
    for (const s of readable) this.readLen += s.len;
    for (const s of writable) this.writeLen += s.len;
  }

  /** Copies `len` readable bytes starting `offset` bytes into the chain (fewer if the chain is shorter). */
  gather(ram: GuestRam, offset: number, len: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(len, this.readLen - offset)));
    let pos = 0;
    visit(this.readable, offset, out.length, (s, o, n) => {
      out.set(ram.readView(s.addr + o, n), pos);
      pos += n;
    });
    return out;
  }

  /** Copies `data` into the writable segments starting `offset` bytes in; returns the bytes written. */
  scatter(ram: GuestRam, offset: number, data: Uint8Array): number {
    const len = Math.max(0, Math.min(data.length, this.writeLen - offset));
    let pos = 0;
    visit(this.writable, offset, len, (s, o, n) => {
      ram.writeView(s.addr + o, n).set(data.subarray(pos, pos + n));
      pos += n;
    });
    return len;
  }

  /** Calls `fn` with guest views of readable bytes [offset, offset+len), in order. */
  readViews(ram: GuestRam, offset: number, len: number, fn: (view: Uint8Array) => void): void {
    visit(this.readable, offset, len, (s, o, n) => fn(ram.readView(s.addr + o, n)));
  }

  /** Calls `fn` with guest views of writable bytes [offset, offset+len), in order (invalidation done). */
  writeViews(ram: GuestRam, offset: number, len: number, fn: (view: Uint8Array) => void): void {
    visit(this.writable, offset, len, (s, o, n) => fn(ram.writeView(s.addr + o, n)));
  }
}

function visit(segs: Segment[], offset: number, len: number, fn: (s: Segment, off: number, n: number) => void): void {
  let skip = offset, left = len;
  for (const s of segs) {
    if (left <= 0) break;
    if (skip >= s.len) { skip -= s.len; continue; }
    const n = Math.min(s.len - skip, left);
    if (n > 0) fn(s, skip, n);
    left -= n;
    skip = 0;
  }
}
