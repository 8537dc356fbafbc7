import { describe, expect, it } from 'vitest';
import { AioContext } from '../../src/aio/aio-context';
import { ManualClock } from '../../src/aio/clock';
import { IoBus } from '../../src/devices/bus';
import { PIT_HZ } from '../../src/devices/i8254-channel';
import { IrqLine } from '../../src/devices/irq';
import { Pit } from '../../src/devices/pit';
import { SystemControlPortB } from '../../src/devices/port61';

const TICK = 1e9 / PIT_HZ;

function setup() {
  const clock = new ManualClock();
  const aio = new AioContext({ clock });
  const bus = new IoBus();
  const edges: number[] = [];
  const irq0 = new IrqLine((level) => {
    if (level) edges.push(clock.now());
  });
  const pit = new Pit(aio, irq0);
  pit.attach(bus);
  const p61 = new SystemControlPortB(pit, clock);
  p61.attach(bus);
  p61.reset();
  /** Advance time in steps, running timers like the run loop would. */
  const run = (ns: number, step = 100_000): void => {
    const end = clock.now() + ns;
    while (clock.now() < end) {
      const d = aio.nextDeadline();
      clock.set(d >= 0 && d <= end ? Math.max(d, clock.now()) : Math.min(end, clock.now() + step));
      aio.poll(false);
    }
  };
  const readCount = (ch: number): number => {
    bus.ioWrite(0x43, 1, ch << 6); // counter latch
    return bus.ioRead(0x40 + ch, 1) | (bus.ioRead(0x40 + ch, 1) << 8);
  };
  return { clock, aio, bus, pit, irq0, edges, run, readCount, p61 };
}

describe('8254 PIT', () => {
  it('Linux PIT calibration: channel 2, gate via 0x61, mode 0, poll OUT on bit 5', () => {
    const { bus, clock } = setup();
    const latch = Math.floor(PIT_HZ / 20); // 50 ms
    bus.ioWrite(0x61, 1, (bus.ioRead(0x61, 1) & ~0x02) | 0x01);
    bus.ioWrite(0x43, 1, 0xb0);
    bus.ioWrite(0x42, 1, latch & 0xff);
    bus.ioWrite(0x42, 1, latch >> 8);
    const start = clock.now();
    let polls = 0;
    while ((bus.ioRead(0x61, 1) & 0x20) === 0) {
      clock.advance(1000);
      polls++;
      if (polls > 1e6) throw new Error('OUT never went high');
    }
    const ms = (clock.now() - start) / 1e6;
    expect(ms).toBeGreaterThanOrEqual(49.99);
    expect(ms).toBeLessThan(50.01);
    // The gate stops the count: with gate low the counter holds.
    bus.ioWrite(0x43, 1, 0xb0);
    bus.ioWrite(0x42, 1, 0xff);
    bus.ioWrite(0x42, 1, 0xff);
    clock.advance(1e6);
    bus.ioWrite(0x61, 1, 0x00);
    const { readCount } = setupReader(bus);
    const held = readCount(2);
    clock.advance(5e6);
    expect(readCount(2)).toBe(held);
    expect(bus.ioRead(0x61, 1) & 0x20).toBe(0);
  });

  it('mode 2 on channel 0 raises IRQ0 at 100 Hz', () => {
    const { bus, edges, run } = setup();
    const count = Math.round(PIT_HZ / 100);
    bus.ioWrite(0x43, 1, 0x34);
    bus.ioWrite(0x40, 1, count & 0xff);
    bus.ioWrite(0x40, 1, count >> 8);
    expect(edges).toEqual([0]); // the control word drives OUT high
    edges.length = 0;
    run(1e9 + 1e6);
    // Rising edges at the end of each one-clock low pulse.
    expect(edges.length).toBe(100);
    const period = edges[50]! - edges[49]!;
    expect(Math.abs(period - 10e6)).toBeLessThan(2 * TICK);
  });

  it('mode 3 square wave: OUT half high half low, counter steps by two', () => {
    const { bus, clock, pit, readCount } = setup();
    bus.ioWrite(0x43, 1, 0x36);
    bus.ioWrite(0x40, 1, 100);
    bus.ioWrite(0x40, 1, 0);
    expect(readCount(0)).toBe(100);
    clock.advance(10.5 * TICK);
    expect(readCount(0)).toBe(80);
    expect(pit.out(0)).toBe(true);
    clock.advance(50 * TICK);
    expect(pit.out(0)).toBe(false);
    clock.advance(50 * TICK);
    expect(pit.out(0)).toBe(true);
  });

  it('mode 0 counts down through zero and keeps OUT high; mode 4 strobes once', () => {
    const { bus, clock, pit, readCount } = setup();
    bus.ioWrite(0x43, 1, 0x30);
    bus.ioWrite(0x40, 1, 10);
    expect(pit.out(0)).toBe(false); // writing the first byte drives OUT low
    bus.ioWrite(0x40, 1, 0);
    clock.advance(9.5 * TICK);
    expect(pit.out(0)).toBe(false);
    clock.advance(TICK);
    expect(pit.out(0)).toBe(true);
    clock.advance(5 * TICK);
    expect(readCount(0)).toBe(0x10000 - 5);
    expect(pit.out(0)).toBe(true);
    bus.ioWrite(0x43, 1, 0x18); // channel 0, LSB only, mode 4
    bus.ioWrite(0x40, 1, 5);
    expect(pit.out(0)).toBe(true);
    clock.advance(5.5 * TICK);
    expect(pit.out(0)).toBe(false);
    clock.advance(TICK);
    expect(pit.out(0)).toBe(true);
  });

  it('modes 1 and 5 start on a gate rising edge (channel 2)', () => {
    const { bus, clock, pit } = setup();
    bus.ioWrite(0x43, 1, 0xb2); // ch2 mode 1
    bus.ioWrite(0x42, 1, 20);
    bus.ioWrite(0x42, 1, 0);
    expect(pit.out(2)).toBe(true);
    clock.advance(100 * TICK);
    expect(pit.out(2)).toBe(true); // not triggered yet
    bus.ioWrite(0x61, 1, 1); // gate rising edge
    clock.advance(0.5 * TICK);
    expect(pit.out(2)).toBe(false);
    clock.advance(20 * TICK);
    expect(pit.out(2)).toBe(true);
    expect(bus.ioRead(0x61, 1) & 0x20).toBe(0x20);
    bus.ioWrite(0x61, 1, 0);
    bus.ioWrite(0x43, 1, 0xba); // ch2 mode 5
    bus.ioWrite(0x42, 1, 4);
    bus.ioWrite(0x42, 1, 0);
    bus.ioWrite(0x61, 1, 1);
    clock.advance(4.5 * TICK);
    expect(pit.out(2)).toBe(false);
    clock.advance(TICK);
    expect(pit.out(2)).toBe(true);
  });

  it('read-back latches status and count; LSB/MSB access modes; BCD', () => {
    const { bus, clock } = setup();
    bus.ioWrite(0x43, 1, 0x74); // ch1, lsb/msb, mode 2
    bus.ioWrite(0x41, 1, 0x00);
    bus.ioWrite(0x41, 1, 0x10); // 4096
    clock.advance(96.2 * TICK);
    bus.ioWrite(0x43, 1, 0xc4); // read-back count+status of channel 1
    clock.advance(500 * TICK);
    expect(bus.ioRead(0x41, 1)).toBe(0xb4); // status: OUT high, rw=3, mode 2, binary
    expect(bus.ioRead(0x41, 1) | (bus.ioRead(0x41, 1) << 8)).toBe(4000);
    // Latched twice without reading: the first latch wins.
    bus.ioWrite(0x43, 1, 0x40);
    clock.advance(10 * TICK);
    bus.ioWrite(0x43, 1, 0x40);
    const a = bus.ioRead(0x41, 1) | (bus.ioRead(0x41, 1) << 8);
    expect(a).toBe(4096 - ((596 % 4096)));
    // MSB-only mode, BCD counting.
    bus.ioWrite(0x43, 1, 0x61 | 0x04); // ch1 MSB only, mode 2, BCD
    bus.ioWrite(0x41, 1, 0x12); // 1200 in BCD
    clock.advance(0.5 * TICK);
    expect(bus.ioRead(0x41, 1)).toBe(0x12);
    clock.advance(100 * TICK);
    expect(bus.ioRead(0x41, 1)).toBe(0x11);
    bus.ioWrite(0x43, 1, 0x50); // ch1 LSB only, mode 0 binary
    bus.ioWrite(0x41, 1, 200);
    clock.advance(50.5 * TICK);
    expect(bus.ioRead(0x41, 1)).toBe(150);
    expect(bus.ioRead(0x43, 1)).toBe(0xff);
  });

  it('port 0x61: speaker enable, refresh toggle, stored control bits', () => {
    const { bus, p61, clock } = setup();
    bus.ioWrite(0x61, 1, 0x03);
    expect(p61.speakerEnabled).toBe(true);
    bus.ioWrite(0x61, 1, 0x01);
    expect(p61.speakerEnabled).toBe(false);
    const a = bus.ioRead(0x61, 1) & 0x10;
    clock.advance(15_085);
    expect(bus.ioRead(0x61, 1) & 0x10).toBe(a ^ 0x10);
    expect(bus.ioRead(0x61, 1) & 0x0f).toBe(0x01);
  });

  it('saves and restores', () => {
    const { bus, pit, clock } = setup();
    bus.ioWrite(0x43, 1, 0x34);
    bus.ioWrite(0x40, 1, 0);
    bus.ioWrite(0x40, 1, 1);
    clock.advance(1000);
    const s = JSON.parse(JSON.stringify(pit.saveState()));
    const other = setup();
    other.clock.set(clock.now());
    other.pit.loadState(s);
    expect(other.readCount(0)).toBe(setupReader(bus).readCount(0));
  });
});

function setupReader(bus: IoBus) {
  return {
    readCount: (ch: number): number => {
      bus.ioWrite(0x43, 1, ch << 6);
      return bus.ioRead(0x40 + ch, 1) | (bus.ioRead(0x40 + ch, 1) << 8);
    },
  };
}

describe('8254 PIT with late timers (a host clock never fires exactly on time)', () => {
  it('mode 2 still raises one IRQ0 edge per period when every timer runs 5 µs late', () => {
    const { bus, clock, aio, edges } = setup();
    const n = 11932; // ~100 Hz
    bus.ioWrite(0x43, 1, 0x34); // channel 0, lo/hi, mode 2
    bus.ioWrite(0x40, 1, n & 0xff);
    bus.ioWrite(0x40, 1, n >> 8);
    edges.length = 0;
    for (let k = 0; k < 20; k++) {
      const d = aio.nextDeadline();
      expect(d).toBeGreaterThan(0);
      clock.set(d + 5000); // the one-tick (838 ns) low pulse is over by the time the timer runs
      aio.poll(false);
    }
    // 20 timer firings: every low pulse at count 1 and every reload edge are seen: 10 periods -> 10 rising edges.
    expect(edges.length).toBeGreaterThanOrEqual(10);
    const periods = edges.slice(1).map((t, k) => t - edges[k]);
    for (const p of periods) expect(Math.abs(p - n * TICK)).toBeLessThan(10_000);
  });
});
