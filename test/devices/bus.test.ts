import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/devices/bus';
import type { IoHandler } from '../../src/devices/io-region';

function recorder(log: string[], base = 0): IoHandler {
  return {
    read: (off, size) => {
      log.push(`r${off}/${size}`);
      return (base + off) * 0x01010101;
    },
    write: (off, size, v) => void log.push(`w${off}/${size}=${v.toString(16)}`),
    peek: (off) => base + off,
  };
}

describe('IoBus', () => {
  it('routes port accesses with offsets and reads all ones from unclaimed ports', () => {
    const bus = new IoBus();
    const log: string[] = [];
    bus.registerPorts('dev', 0x100, 8, recorder(log, 0x10));
    expect(bus.ioRead(0x102, 1)).toBe(0x12);
    bus.ioWrite(0x104, 2, 0xbeef);
    expect(log).toEqual(['r2/1', 'w4/2=beef']);
    expect(bus.ioRead(0x200, 1)).toBe(0xff);
    expect(bus.ioRead(0x200, 2)).toBe(0xffff);
    expect(bus.ioRead(0x200, 4)).toBe(0xffffffff);
    bus.ioWrite(0x200, 4, 1); // dropped
  });

  it('rejects overlapping ranges', () => {
    const bus = new IoBus();
    bus.registerPorts('a', 0x60, 1, recorder([]));
    bus.registerPorts('b', 0x64, 1, recorder([]));
    expect(() => bus.registerPorts('c', 0x5f, 2, recorder([]))).toThrow(/overlaps a/);
    bus.registerMmio('m', 0xfee00000, 0x1000, recorder([]));
    expect(() => bus.registerMmio('n', 0xfee00ff0, 0x20, recorder([]))).toThrow(/overlaps m/);
    bus.registerMmio('n', 0xfee01000, 0x20, recorder([]));
  });

  it('splits accesses the device does not take whole into bytes, little-endian', () => {
    const bus = new IoBus();
    const log: string[] = [];
    bus.registerPorts('byte-only', 0x40, 4, recorder(log), { sizes: 1 });
    expect(bus.ioRead(0x40, 2)).toBe(0x0100);
    expect(log).toEqual(['r0/1', 'r1/1']);
    log.length = 0;
    bus.ioWrite(0x41, 4, 0x11223344); // last byte falls off the end: unclaimed, dropped
    expect(log).toEqual(['w1/1=44', 'w2/1=33', 'w3/1=22']);
    // Straddling the end of a range: one byte from the device, one unclaimed.
    expect(bus.ioRead(0x43, 2)).toBe(0xff03);
    // Unaligned access to a region that takes words is split too.
    const log2: string[] = [];
    bus.registerMmio('mm', 0x1000, 16, recorder(log2));
    bus.mmioRead(0x1001, 4);
    expect(log2).toEqual(['r1/1', 'r2/1', 'r3/1', 'r4/1']);
    log2.length = 0;
    bus.mmioRead(0x1004, 4);
    expect(log2).toEqual(['r4/4']);
  });

  it('peek has no side effects and traces every access with --debug-ioport', () => {
    const lines: string[] = [];
    const bus = new IoBus({ traceIo: (l) => lines.push(l) });
    const log: string[] = [];
    bus.registerPorts('uart', 0x3f8, 8, recorder(log));
    expect(bus.peekPort(0x3f9, 1)).toBe(1);
    expect(log).toEqual([]);
    bus.registerPorts('nopeek', 0x80, 1, { read: () => 5, write: () => {} });
    expect(bus.peekPort(0x80, 1)).toBe(0xff);
    bus.ioWrite(0x3f8, 1, 0x41);
    bus.ioRead(0x3fd, 1);
    bus.ioRead(0x1234, 2);
    expect(lines).toEqual([
      'ioport write 0x03f8 size 1 <- 0x41 (uart)',
      'ioport read  0x03fd size 1 -> 0x05 (uart)',
      'ioport read  0x1234 size 2 -> 0xffff (unclaimed)',
    ]);
  });

  it('unregisters ranges', () => {
    const bus = new IoBus();
    const r = bus.registerPorts('a', 0x70, 2, recorder([]));
    bus.unregister(r);
    expect(bus.ioRead(0x70, 1)).toBe(0xff);
    bus.registerPorts('b', 0x70, 2, recorder([]));
  });
});
