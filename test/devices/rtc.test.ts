import { describe, expect, it } from 'vitest';
import { AioContext } from '../../src/aio/aio-context';
import { ManualClock } from '../../src/aio/clock';
import { IoBus } from '../../src/devices/bus';
import { civilFromSeconds, secondsFromCivil } from '../../src/devices/civil-time';
import { IrqLine } from '../../src/devices/irq';
import { Rtc } from '../../src/devices/rtc';

// 2026-11-22T17:00:05Z, a Sunday.
const EPOCH = Date.UTC(2026, 10, 22, 17, 0, 5) / 1000;

function setup() {
  const clock = new ManualClock();
  const aio = new AioContext({ clock });
  const bus = new IoBus();
  let rises = 0;
  const irq = new IrqLine((l) => {
    if (l) rises++;
  });
  const rtc = new Rtc(aio, irq, { epochSeconds: EPOCH });
  rtc.attach(bus);
  const rd = (r: number): number => {
    bus.ioWrite(0x70, 1, r);
    return bus.ioRead(0x71, 1);
  };
  const wr = (r: number, v: number): void => {
    bus.ioWrite(0x70, 1, r);
    bus.ioWrite(0x71, 1, v);
  };
  const run = (ns: number): void => {
    const end = clock.now() + ns;
    for (;;) {
      const d = aio.nextDeadline();
      if (d < 0 || d > end) break;
      clock.set(Math.max(d, clock.now()));
      aio.poll(false);
    }
    clock.set(end);
  };
  return { clock, aio, bus, irq, rtc, rd, wr, run, rises: () => rises };
}

describe('civil time', () => {
  it('round-trips and knows the weekday', () => {
    const c = civilFromSeconds(EPOCH);
    expect(c).toEqual({ year: 2026, month: 11, day: 22, hour: 17, minute: 0, second: 5, weekday: 1 });
    expect(secondsFromCivil(c)).toBe(EPOCH);
    expect(civilFromSeconds(951782400)).toMatchObject({ year: 2000, month: 2, day: 29 }); // leap day
  });
});

describe('MC146818 RTC/CMOS', () => {
  it('reads the configured time in BCD 24h and follows the clock', () => {
    const { rd, clock } = setup();
    expect([rd(9), rd(8), rd(7), rd(6), rd(4), rd(2), rd(0), rd(0x32)]).toEqual([0x26, 0x11, 0x22, 0x01, 0x17, 0x00, 0x05, 0x20]);
    clock.advance(3.5e9);
    expect(rd(0)).toBe(0x08);
    clock.advance(60e9);
    expect([rd(2), rd(0)]).toEqual([0x01, 0x08]);
    expect(rd(0x0d)).toBe(0x80);
  });

  it('binary and 12-hour modes', () => {
    const { rd, wr } = setup();
    wr(0x0b, 0x04); // binary, 12h
    expect(rd(4)).toBe(0x80 | 5); // 5 PM
    expect(rd(9)).toBe(26);
    wr(0x0b, 0x00); // BCD 12h
    expect(rd(4)).toBe(0x85);
    wr(0x0b, 0x06); // binary 24h
    expect(rd(4)).toBe(17);
  });

  it('the guest sets the time with SET, and it runs on from there', () => {
    const { rd, wr, clock } = setup();
    wr(0x0b, 0x82); // SET, 24h BCD
    wr(4, 0x23);
    wr(2, 0x59);
    wr(0, 0x58);
    clock.advance(5e9);
    expect(rd(0)).toBe(0x58); // frozen while SET
    wr(0x0b, 0x02);
    clock.advance(2.5e9);
    expect([rd(7), rd(4), rd(2), rd(0)]).toEqual([0x23, 0x00, 0x00, 0x00]); // rolled into Nov 23
    expect(rd(6)).toBe(0x02); // Monday
    // A write while running takes effect at once.
    wr(9, 0x30);
    expect(rd(9)).toBe(0x30);
  });

  it('UIP is set in the 244 µs before each update', () => {
    const { rd, clock } = setup();
    clock.set(1e9 - 300_000);
    expect(rd(0x0a) & 0x80).toBe(0);
    clock.set(1e9 - 200_000);
    expect(rd(0x0a)).toBe(0xa6);
    clock.set(1e9 + 1000);
    expect(rd(0x0a)).toBe(0x26);
  });

  it('periodic interrupt at the RS rate on IRQ8; reading C acknowledges', () => {
    const { rd, wr, run, irq, rises } = setup();
    wr(0x0a, 0x26); // 1024 Hz
    wr(0x0b, 0x42); // PIE
    let n = 0;
    for (let i = 0; i < 1024 * 2; i++) {
      run(1e9 / 1024 / 2);
      if (irq.high) {
        expect(rd(0x0c) & 0xc0).toBe(0xc0);
        n++;
      }
    }
    expect(n).toBe(1024);
    expect(rises()).toBe(1024);
    // PF is set even with PIE off, without an interrupt.
    wr(0x0b, 0x02);
    rd(0x0c);
    run(2e6);
    expect(irq.high).toBe(false);
    expect(rd(0x0c)).toBe(0x40);
  });

  it('update-ended and alarm interrupts', () => {
    const { rd, wr, run, irq } = setup();
    wr(0x0b, 0x12); // UIE
    run(0.9e9);
    expect(irq.high).toBe(false);
    run(0.2e9);
    expect(irq.high).toBe(true);
    expect(rd(0x0c)).toBe(0xd0); // IRQF, UF, and PF (RS=6 runs regardless of PIE)
    expect(irq.high).toBe(false);
    wr(0x0b, 0x22); // AIE only
    wr(5, 0x17);
    wr(3, 0x00);
    wr(1, 0x10); // 17:00:10
    run(3e9); // 17:00:09
    expect(irq.high).toBe(false);
    run(1e9);
    expect(irq.high).toBe(true);
    expect(rd(0x0c) & 0xa0).toBe(0xa0);
    // Don't-care alarm: every second.
    wr(1, 0xff);
    wr(3, 0xff);
    wr(5, 0xff);
    run(1e9);
    expect(irq.high).toBe(true);
  });

  it('port 0x70 bit 7 masks NMI; CMOS memory and size bytes', () => {
    const { bus, rd, wr, rtc } = setup();
    bus.ioWrite(0x70, 1, 0x8f);
    expect(rtc.nmiMasked).toBe(true);
    bus.ioWrite(0x70, 1, 0x0f);
    expect(rtc.nmiMasked).toBe(false);
    wr(0x40, 0xa5);
    expect(rd(0x40)).toBe(0xa5);
    rtc.setMemorySize(32 * 1024 * 1024);
    expect(rd(0x15) | (rd(0x16) << 8)).toBe(640);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(31 * 1024);
    expect(rd(0x30) | (rd(0x31) << 8)).toBe(31 * 1024);
    expect(rd(0x34) | (rd(0x35) << 8)).toBe(256);
    rtc.setMemorySize(6 * 1024 * 1024 * 1024);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(0xffff);
    expect(rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16)).toBe((2 * 1024 * 1024 * 1024) / 65536);
    rtc.reset();
    expect(rd(0x15) | (rd(0x16) << 8)).toBe(640); // CMOS RAM survives a reset
  });

  it('state round-trips', () => {
    const a = setup();
    a.wr(0x0b, 0x06);
    a.clock.advance(7e9);
    const s = JSON.parse(JSON.stringify(a.rtc.saveState()));
    const b = setup();
    b.clock.set(7e9);
    b.rtc.loadState(s);
    expect(b.rd(0)).toBe(12);
  });
});
