import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/devices/bus';
import { PicPair } from '../../src/devices/pic';

/** Linux-style init: master at 0x20, slave at 0x28, cascade on IR2. */
function setup(icw4 = 0x01): { bus: IoBus; pic: PicPair } {
  const bus = new IoBus();
  const pic = new PicPair();
  pic.attach(bus);
  bus.ioWrite(0x20, 1, 0x11);
  bus.ioWrite(0x21, 1, 0x20);
  bus.ioWrite(0x21, 1, 0x04);
  bus.ioWrite(0x21, 1, icw4);
  bus.ioWrite(0xa0, 1, 0x11);
  bus.ioWrite(0xa1, 1, 0x28);
  bus.ioWrite(0xa1, 1, 0x02);
  bus.ioWrite(0xa1, 1, icw4);
  bus.ioWrite(0x21, 1, 0x00);
  bus.ioWrite(0xa1, 1, 0x00);
  return { bus, pic };
}

describe('8259A PIC pair', () => {
  it('delivers edge-triggered IRQs by priority and honours the in-service nesting', () => {
    const { bus, pic } = setup();
    expect(pic.intr).toBe(false);
    pic.setIrq(3, true);
    pic.setIrq(1, true);
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
    // IRQ3 is lower priority than in-service IRQ1: held off.
    expect(pic.intr).toBe(false);
    expect(bus.ioRead(0x20, 1)).toBe(0x08); // IRR
    bus.ioWrite(0x20, 1, 0x0b); // OCW3: read ISR
    expect(bus.ioRead(0x20, 1)).toBe(0x02);
    bus.ioWrite(0x20, 1, 0x20); // non-specific EOI
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(0x23);
    bus.ioWrite(0x20, 1, 0x63); // specific EOI for IR3
    expect(bus.ioRead(0x20, 1)).toBe(0); // ISR empty
    // Edge: a line held high does not interrupt again until it goes low and high.
    expect(pic.intr).toBe(false);
    pic.setIrq(1, false);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('masks with OCW1 and cascades slave IRQs through IR2', () => {
    const { bus, pic } = setup();
    bus.ioWrite(0xa1, 1, 0xff);
    pic.setIrq(8, true);
    expect(pic.intr).toBe(false);
    expect(bus.ioRead(0xa1, 1)).toBe(0xff);
    bus.ioWrite(0xa1, 1, 0x00);
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(0x28);
    bus.ioWrite(0x20, 1, 0x0b);
    expect(bus.ioRead(0x20, 1)).toBe(0x04); // master IR2 in service
    bus.ioWrite(0xa0, 1, 0x20);
    bus.ioWrite(0x20, 1, 0x20);
    expect(bus.ioRead(0x20, 1)).toBe(0);
  });

  it('level-triggered inputs through the ELCR stay requested until the line drops', () => {
    const { bus, pic } = setup();
    bus.ioWrite(0x4d1, 1, 0xff);
    expect(bus.ioRead(0x4d1, 1)).toBe(0xde); // IRQ8 and IRQ13 are edge-only
    bus.ioWrite(0x4d0, 1, 0xff);
    expect(bus.ioRead(0x4d0, 1)).toBe(0xf8);
    pic.setIrq(11, true);
    expect(pic.acknowledge()).toBe(0x2b);
    bus.ioWrite(0xa0, 1, 0x20);
    bus.ioWrite(0x20, 1, 0x20);
    // Still high: requests again without a new edge.
    expect(pic.intr).toBe(true);
    pic.setIrq(11, false);
    expect(pic.intr).toBe(false);
  });

  it('answers a request that vanished before INTA with spurious IR7', () => {
    const { bus, pic } = setup();
    bus.ioWrite(0x4d0, 1, 0x20); // IRQ5 level
    pic.setIrq(5, true);
    expect(pic.intr).toBe(true);
    pic.setIrq(5, false);
    expect(pic.acknowledge()).toBe(0x27);
    bus.ioWrite(0x20, 1, 0x0b);
    expect(bus.ioRead(0x20, 1)).toBe(0); // spurious: no ISR bit
  });

  it('auto-EOI leaves ISR clear', () => {
    const { bus, pic } = setup(0x03);
    pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x20);
    bus.ioWrite(0x20, 1, 0x0b);
    expect(bus.ioRead(0x20, 1)).toBe(0);
  });

  it('poll mode returns the level and acknowledges it', () => {
    const { bus, pic } = setup();
    pic.setIrq(6, true);
    bus.ioWrite(0x20, 1, 0x0c); // OCW3 poll
    expect(bus.ioRead(0x20, 1)).toBe(0x86);
    expect(pic.intr).toBe(false);
    bus.ioWrite(0x20, 1, 0x0c);
    expect(bus.ioRead(0x20, 1)).toBe(0x00);
  });

  it('special mask mode lets lower priorities in while a level is in service and masked', () => {
    const { bus, pic } = setup();
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    pic.setIrq(4, true);
    expect(pic.intr).toBe(false);
    bus.ioWrite(0x21, 1, 0x02); // mask IR1 (in service)
    bus.ioWrite(0x20, 1, 0x68); // OCW3: set special mask
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(0x24);
    bus.ioWrite(0x20, 1, 0x48); // reset special mask
  });

  it('rotates priorities on EOI and via set-priority', () => {
    const { bus, pic } = setup();
    pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x20);
    bus.ioWrite(0x20, 1, 0xa0); // rotate on non-specific EOI: IR0 becomes lowest
    pic.setIrq(0, false);
    pic.setIrq(0, true);
    pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x25);
    bus.ioWrite(0x20, 1, 0x20);
    bus.ioWrite(0x20, 1, 0xc4); // set priority: IR4 lowest, IR5 highest
    pic.setIrq(5, false);
    pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x25);
  });

  it('saves and restores state', () => {
    const { pic } = setup();
    pic.setIrq(3, true);
    const s = pic.saveState();
    const other = new PicPair();
    other.loadState(JSON.parse(JSON.stringify(s)));
    expect(other.intr).toBe(true);
    expect(other.acknowledge()).toBe(0x23);
    expect(() => other.loadState({ ...s, version: 2 } as never)).toThrow();
  });
});
