import { describe, expect, it } from 'vitest';
import { AioContext } from '../../src/aio/aio-context';
import { ManualClock } from '../../src/aio/clock';
import { ScriptedCharBackend } from '../../src/devices/chardev';
import { PcPlatform } from '../../src/devices/pc-platform';

function make(clock = new ManualClock()) {
  const aio = new AioContext({ clock });
  const exits: number[] = [];
  let resets = 0;
  const p = new PcPlatform({ aio, ramBytes: 64 << 20, onExit: (s) => exits.push(s), onReset: () => resets++ });
  return { aio, clock, p, exits, resets: () => resets };
}

describe('PcPlatform', () => {
  it('wires the standard ports and callbacks', () => {
    const { p, exits, resets } = make();
    const b = p.bus;
    b.ioWrite(0xf4, 1, 3);
    expect(exits).toEqual([7]);
    b.ioWrite(0x64, 1, 0xfe);
    expect(resets()).toBe(1);
    const cmos = (r: number): number => {
      b.ioWrite(0x70, 1, r);
      return b.ioRead(0x71, 1);
    };
    expect(cmos(0x34) | (cmos(0x35) << 8)).toBe(((64 - 16) << 20) >> 16);
    b.ioWrite(0x510, 2, 5);
    expect(b.ioRead(0x511, 1)).toBe(1);
    expect(b.mmioRead(0xfee00030, 4)).toBe(0x00050014);
    const { ports } = b.regions();
    expect(ports.map((r) => r.name)).toContain('com2');
  });

  it('snapshots every device by name and restores them', () => {
    const a = make();
    a.p.bus.ioWrite(0x3f8 + 7, 1, 0x5a); // UART scratch
    a.p.bus.ioWrite(0x21, 1, 0x12); // IMR
    a.clock.advance(12345);
    const snap = JSON.parse(JSON.stringify(a.p.saveState()));
    expect(Object.keys(snap)).toEqual(expect.arrayContaining(['i8259-pair', 'i8254', 'mc146818', 'com1', 'com2', 'local-apic', 'fw_cfg']));
    const b = make();
    b.clock.set(12345);
    b.p.loadState(snap);
    expect(b.p.bus.ioRead(0x3ff, 1)).toBe(0x5a);
    expect(b.p.bus.ioRead(0x21, 1)).toBe(0x12);
    b.p.reset();
    expect(b.p.bus.ioRead(0x3ff, 1)).toBe(0);
    expect(b.p.bus.ioRead(0x21, 1)).toBe(0);
  });

  it('scripted serial input arrives at its clock time', () => {
    const clock = new ManualClock();
    const aio = new AioContext({ clock });
    const com1 = new ScriptedCharBackend(aio, [{ atNs: 5e6, data: 'x' }]);
    const p = new PcPlatform({ aio, ramBytes: 1 << 20, com1 });
    p.bus.ioWrite(0x3fb, 1, 0x03); // 8 data bits (power-on LCR is 5 bits)
    const step = (ns: number): void => {
      clock.advance(ns);
      aio.poll(false);
    };
    step(4e6);
    expect(p.bus.ioRead(0x3fd, 1) & 1).toBe(0);
    step(1e6);
    step(2e6); // one character time at the power-on 9600 baud later
    expect(p.bus.ioRead(0x3fd, 1) & 1).toBe(1);
    expect(p.bus.ioRead(0x3f8, 1)).toBe(0x78);
  });
});
