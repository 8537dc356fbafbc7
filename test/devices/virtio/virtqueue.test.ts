// The split virtqueue over hand-built rings: normal and indirect chains, event-index
// notification suppression, and malformed rings and chains rejected before any data
// byte moves.
import { describe, expect, it } from 'vitest';
import { GuestRam, VirtioGuestError } from '../../../src/devices/virtio/guest-ram';
import { SplitVirtqueue, MAX_INDIRECT } from '../../../src/devices/virtio/virtqueue';
import { F_INDIRECT, F_NEXT, F_WRITE, Ring, smallRam } from './rings';

const RAM = 1 << 20;

function setup(size = 8, opts: { eventIdx?: boolean; indirect?: boolean } = {}) {
  const mem = smallRam(RAM);
  const ring = new Ring(mem, 0x1000, size);
  const q = ring.queue(opts);
  return { mem, ring, q };
}

function popError(q: SplitVirtqueue): string {
  try {
    q.pop();
  } catch (e) {
    expect(e).toBeInstanceOf(VirtioGuestError);
    return (e as Error).message;
  }
  throw new Error('pop() accepted a malformed chain');
}

describe('SplitVirtqueue: well-formed chains', () => {
  it('pops a readable+writable chain, pushes it back and advances the used ring', () => {
    const { ring, q } = setup();
    ring.setDesc(0, 0x10000, 16, F_NEXT, 3);
    ring.setDesc(3, 0x11000, 512, F_NEXT | F_WRITE, 5);
    ring.setDesc(5, 0x12000, 1, F_WRITE);
    expect(q.pop()).toBeNull();
    ring.offer(0);
    expect(q.hasWork()).toBe(true);
    const c = q.pop()!;
    expect(c.head).toBe(0);
    expect(c.readable).toEqual([{ addr: 0x10000, len: 16 }]);
    expect(c.writable).toEqual([{ addr: 0x11000, len: 512 }, { addr: 0x12000, len: 1 }]);
    expect([c.readLen, c.writeLen]).toEqual([16, 513]);
    expect(q.pop()).toBeNull();
    q.push(c.head, 513);
    expect(ring.usedIdx).toBe(1);
    expect(ring.usedElem(0)).toEqual({ id: 0, len: 513 });
  });

  it('scatters and gathers across segments', () => {
    const { mem, ring, q } = setup();
    mem.ram.set([1, 2, 3], 0x10000);
    mem.ram.set([4, 5], 0x10100);
    ring.setDesc(0, 0x10000, 3, F_NEXT, 1);
    ring.setDesc(1, 0x10100, 2, F_NEXT, 2);
    ring.setDesc(2, 0x20000, 2, F_WRITE | F_NEXT, 4);
    ring.setDesc(4, 0x20100, 3, F_WRITE);
    ring.offer(0);
    const c = q.pop()!;
    const ram = new GuestRam(mem);
    expect([...c.gather(ram, 1, 4)]).toEqual([2, 3, 4, 5]);
    expect(c.scatter(ram, 1, Uint8Array.of(9, 8, 7, 6, 5))).toBe(4);
    expect([...mem.ram.subarray(0x20000, 0x20002)]).toEqual([0, 9]);
    expect([...mem.ram.subarray(0x20100, 0x20103)]).toEqual([8, 7, 6]);
  });

  it('follows an indirect table (VIRTIO_F_INDIRECT_DESC)', () => {
    const { ring, q } = setup(8, { indirect: true });
    const table = 0x30000;
    ring.setDesc(0, 0x10000, 16, F_NEXT, 2, table);
    ring.setDesc(2, 0x11000, 4096, F_NEXT | F_WRITE, 1, table);
    ring.setDesc(1, 0x12000, 1, F_WRITE, 0, table);
    ring.setDesc(6, table, 3 * 16, F_INDIRECT);
    ring.offer(6);
    const c = q.pop()!;
    expect(c.head).toBe(6);
    expect(c.readable).toEqual([{ addr: 0x10000, len: 16 }]);
    expect(c.writable).toEqual([{ addr: 0x11000, len: 4096 }, { addr: 0x12000, len: 1 }]);
  });

  it('accepts an indirect table at the end of a direct chain', () => {
    const { ring, q } = setup(8, { indirect: true });
    const table = 0x30000;
    ring.setDesc(0, 0x12000, 1, F_WRITE, 0, table);
    ring.setDesc(0, 0x10000, 16, F_NEXT, 1);
    ring.setDesc(1, table, 16, F_INDIRECT);
    ring.offer(0);
    const c = q.pop()!;
    expect([c.readLen, c.writeLen]).toEqual([16, 1]);
  });

  it('wraps the available and used indices past 65535', () => {
    const { ring, q } = setup(4);
    ring.setDesc(0, 0x10000, 8, F_WRITE);
    // Start both rings just below the wrap: enable() adopts the driver's indices.
    ring.setAvailIdx(0xfffe);
    const q2 = ring.queue();
    q2.usedIdx = 0xfffe;
    for (let k = 0; k < 4; k++) {
      ring.offer(0);
      const c = q2.pop()!;
      q2.push(c.head, 8);
    }
    expect(ring.usedIdx).toBe(2);
    expect(q2.lastAvail).toBe(2);
    expect(q.lastAvail).toBe(0); // enabled before: adopted avail.idx 0 then
  });
});

describe('SplitVirtqueue: notification suppression', () => {
  it('without EVENT_IDX: interrupts unless avail.flags has NO_INTERRUPT', () => {
    const { ring, q } = setup();
    ring.setDesc(0, 0x10000, 8, F_WRITE);
    expect(q.shouldInterrupt()).toBe(false); // nothing used yet
    ring.offer(0); q.push(q.pop()!.head, 8);
    expect(q.shouldInterrupt()).toBe(true);
    ring.setAvailFlags(1);
    ring.offer(0); q.push(q.pop()!.head, 8);
    expect(q.shouldInterrupt()).toBe(false);
  });

  it('with EVENT_IDX: interrupts only when used.idx steps over used_event, and publishes avail_event', () => {
    const { ring, q } = setup(8, { eventIdx: true });
    ring.setDesc(0, 0x10000, 8, F_WRITE);
    ring.setAvailFlags(1); // ignored with EVENT_IDX
    ring.setUsedEvent(2); // "interrupt me when entry 2 is used" (used.idx becomes 3)
    for (let k = 0; k < 2; k++) { ring.offer(0); q.push(q.pop()!.head, 8); }
    expect(ring.availEvent).toBe(2);
    expect(q.shouldInterrupt()).toBe(false); // used.idx 0 -> 2: entry 2 not used yet
    ring.offer(0); q.push(q.pop()!.head, 8);
    expect(q.shouldInterrupt()).toBe(true); // 2 -> 3 crosses used_event
    ring.offer(0); q.push(q.pop()!.head, 8);
    expect(q.shouldInterrupt()).toBe(false); // 3 -> 4: used_event still 2
    ring.setUsedEvent(3); // stale: entry 3 was used before
    ring.offer(0); ring.offer(0);
    q.push(q.pop()!.head, 8); q.push(q.pop()!.head, 8);
    expect(q.shouldInterrupt()).toBe(false); // 4 -> 6 does not use entry 3
    ring.setUsedEvent(6);
    ring.offer(0); ring.offer(0);
    q.push(q.pop()!.head, 8); q.push(q.pop()!.head, 8);
    expect(q.shouldInterrupt()).toBe(true); // 6 -> 8 uses entry 6
  });
});

describe('SplitVirtqueue: malformed rings and chains are rejected', () => {
  it('a descriptor loop', () => {
    const { ring, q } = setup();
    ring.setDesc(0, 0x10000, 8, F_NEXT, 1);
    ring.setDesc(1, 0x10000, 8, F_NEXT, 0);
    ring.offer(0);
    expect(popError(q)).toMatch(/more than 8 descriptors: a loop/);
  });

  it('a loop inside an indirect table', () => {
    const { ring, q } = setup(8, { indirect: true });
    const t = 0x30000;
    ring.setDesc(0, 0x10000, 8, F_NEXT, 1, t);
    ring.setDesc(1, 0x10000, 8, F_NEXT, 0, t);
    ring.setDesc(0, t, 32, F_INDIRECT);
    ring.offer(0);
    expect(popError(q)).toMatch(/loop in the indirect table/);
  });

  it('buffers outside RAM, ending past RAM, or above 4 GiB', () => {
    const cases: [number, number, RegExp][] = [
      [RAM, 1, /outside guest RAM/],
      [RAM - 4, 8, /outside guest RAM/],
      [0x10000, 0xffffffff, /outside guest RAM/], // addr + len overflows 2^32 and RAM
      [0xfffffff0, 0x20, /outside guest RAM/], // wraps around 2^32 in 32-bit arithmetic
      [2 ** 32 + 0x1000, 16, /above 4 GiB/],
    ];
    for (const [addr, len, re] of cases) {
      const { ring, q } = setup();
      ring.setDesc(0, addr, len, F_WRITE);
      ring.offer(0);
      expect(popError(q)).toMatch(re);
    }
  });

  it('a buffer ending exactly at the end of RAM is fine', () => {
    const { ring, q } = setup();
    ring.setDesc(0, RAM - 16, 16, F_WRITE);
    ring.offer(0);
    expect(q.pop()!.writeLen).toBe(16);
  });

  it('next and head indices outside the table, an available index too far ahead', () => {
    let s = setup();
    s.ring.setDesc(0, 0x10000, 8, F_NEXT, 8);
    s.ring.offer(0);
    expect(popError(s.q)).toMatch(/descriptor index 8 is outside the descriptor table of 8/);
    s = setup();
    s.ring.offer(9);
    expect(popError(s.q)).toMatch(/descriptor index 9/);
    s = setup();
    s.ring.setAvailIdx(9);
    expect(popError(s.q)).toMatch(/9 entries ahead/);
  });

  it('indirect inside indirect, indirect with NEXT, indirect not negotiated, bad table length or place', () => {
    const t = 0x30000;
    let s = setup(8, { indirect: true });
    s.ring.setDesc(0, 0x31000, 16, F_INDIRECT, 0, t);
    s.ring.setDesc(0, t, 16, F_INDIRECT);
    s.ring.offer(0);
    expect(popError(s.q)).toMatch(/indirect descriptor inside an indirect table/);

    s = setup(8, { indirect: true });
    s.ring.setDesc(0, t, 16, F_INDIRECT | F_NEXT, 1);
    s.ring.offer(0);
    expect(popError(s.q)).toMatch(/indirect descriptor with NEXT/);

    s = setup(8, { indirect: false });
    s.ring.setDesc(0, t, 16, F_INDIRECT);
    s.ring.offer(0);
    expect(popError(s.q)).toMatch(/without VIRTIO_F_INDIRECT_DESC/);

    for (const [addr, len, re] of [[t, 24, /not a multiple of 16/], [t, 0, /not a multiple of 16/], [t, 16 * (MAX_INDIRECT + 1), /not a multiple of 16/], [RAM - 16, 32, /indirect table of 32 bytes .* outside guest RAM/]] as const) {
      s = setup(8, { indirect: true });
      s.ring.setDesc(0, addr, len, F_INDIRECT);
      s.ring.offer(0);
      expect(popError(s.q)).toMatch(re);
    }
  });

  it('an indirect table whose next index leaves the table', () => {
    const s = setup(8, { indirect: true });
    const t = 0x30000;
    s.ring.setDesc(0, 0x10000, 8, F_NEXT, 2, t);
    s.ring.setDesc(0, t, 32, F_INDIRECT);
    s.ring.offer(0);
    expect(popError(s.q)).toMatch(/index 2 is outside the indirect table of 2/);
  });

  it('a readable descriptor after a writable one', () => {
    const s = setup();
    s.ring.setDesc(0, 0x10000, 8, F_WRITE | F_NEXT, 1);
    s.ring.setDesc(1, 0x11000, 8, 0);
    s.ring.offer(0);
    expect(popError(s.q)).toMatch(/readable descriptor after a device-writable/);
  });

  it('a chain whose lengths add up past 2^32 - 1', () => {
    const mem = smallRam(4 << 20);
    const ring = new Ring(mem, 0x1000, 8);
    const q = ring.queue({ indirect: true });
    const t = 0x100000;
    for (let i = 0; i < 1024; i++) ring.setDesc(i, 0, 4 << 20, F_WRITE | (i < 1023 ? F_NEXT : 0), i + 1, t);
    ring.setDesc(0, t, 1024 * 16, F_INDIRECT);
    ring.offer(0);
    expect(popError(q)).toMatch(/total length exceeds 2\^32 - 1/);
  });

  it('ring areas outside RAM or misaligned are refused at enable', () => {
    const mem = smallRam(RAM);
    const q = new SplitVirtqueue(new GuestRam(mem), 0, 256);
    q.desc = RAM - 16 * 256 + 16; q.avail = 0x1000; q.used = 0x2000;
    expect(() => q.enable()).toThrow(/descriptor table of 4096 bytes .* outside guest RAM/);
    q.desc = 0x8008;
    expect(() => q.enable()).toThrow(/not 16-byte aligned/);
    q.desc = 0x8000; q.used = 0x2002;
    expect(() => q.enable()).toThrow(/used ring .* not 4-byte aligned/);
    q.used = 2 ** 40;
    expect(() => q.enable()).toThrow(/used ring .* outside guest RAM/);
    q.used = 0x2000; q.size = 100;
    expect(() => q.enable()).toThrow(/not a power of two/);
    expect(q.ready).toBe(false);
  });

  it('error messages carry a dump of the queue and the descriptors visited', () => {
    const { ring, q } = setup();
    ring.setDesc(0, 0x10000, 8, F_NEXT, 1);
    ring.setDesc(1, RAM, 8, F_WRITE);
    ring.offer(0);
    const msg = popError(q);
    expect(msg).toMatch(/queue 0: size=8 desc=0x1000/);
    expect(msg).toMatch(/desc\[0\] addr=0x10000 len=8 flags=0x1 next=1/);
    expect(msg).toMatch(/desc\[1\] addr=0x100000 len=8 flags=0x2/);
  });
});
