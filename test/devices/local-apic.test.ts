import { describe, expect, it } from 'vitest';
import { AioContext } from '../../src/aio/aio-context';
import { ManualClock } from '../../src/aio/clock';
import { IoBus } from '../../src/devices/bus';
import { CpuInterruptLine } from '../../src/devices/interrupt-line';
import { APIC_DEFAULT_BASE, LocalApic, MSR_IA32_APIC_BASE } from '../../src/devices/local-apic';
import { PicPair } from '../../src/devices/pic';

const B = APIC_DEFAULT_BASE;

function setup() {
  const clock = new ManualClock();
  const aio = new AioContext({ clock });
  const bus = new IoBus();
  const apic = new LocalApic(aio);
  apic.attach(bus);
  const pic = new PicPair();
  pic.attach(bus);
  pic.onIntrChange = (l) => apic.setLint(0, l);
  const line = new CpuInterruptLine(pic, apic);
  const rd = (off: number): number => bus.mmioRead(B + off, 4);
  const wr = (off: number, v: number): void => bus.mmioWrite(B + off, 4, v);
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
  return { clock, aio, bus, apic, pic, line, rd, wr, run };
}

function initPic(bus: IoBus): void {
  for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01], [0xa0, 0x11], [0xa1, 0x28], [0xa1, 0x02], [0xa1, 0x01], [0x21, 0], [0xa1, 0]]) {
    bus.ioWrite(p!, 1, v!);
  }
}

describe('local APIC (xAPIC)', () => {
  it('reset state: ID, version 0x14 with max LVT, base MSR, masked LVTs, SVR 0xff', () => {
    const { rd, apic } = setup();
    expect(rd(0x20)).toBe(0);
    expect(rd(0x30)).toBe(0x00050014);
    expect(apic.rdmsr(MSR_IA32_APIC_BASE)).toEqual([0xfee00900, 0]);
    expect(apic.rdmsr(0x10)).toBeNull();
    for (let o = 0x320; o <= 0x370; o += 0x10) expect(rd(o)).toBe(0x10000);
    expect(rd(0xf0)).toBe(0xff);
    expect(rd(0xe0)).toBe(0xffffffff);
  });

  it('software enable, self-IPI through the ICR, priority by TPR/PPR, EOI', () => {
    const { rd, wr, apic, line } = setup();
    wr(0xf0, 0x1ff);
    wr(0x300, 0x40000 | 0x51); // shorthand self, fixed, vector 0x51
    wr(0x300, 0x40000 | 0x62);
    expect(rd(0x200 + 0x10 * (0x51 >> 5))).toBe((1 << (0x51 & 31)) >>> 0);
    expect(line.pending()).toBe(true);
    expect(line.ack()).toBe(0x62);
    expect(rd(0xa0)).toBe(0x60); // PPR from ISR
    expect(line.pending()).toBe(false); // 0x51 is a lower class than in-service 0x62
    wr(0xb0, 0);
    expect(line.ack()).toBe(0x51);
    wr(0xb0, 0);
    expect(rd(0x100 + 0x20)).toBe(0);
    // TPR holds off classes at or below it.
    wr(0x80, 0x70);
    wr(0x300, 0x40000 | 0x65);
    expect(line.pending()).toBe(false);
    expect(rd(0xa0)).toBe(0x70);
    wr(0x80, 0x50);
    expect(line.pending()).toBe(true);
    expect(apic.acknowledge()).toBe(0x65);
    // Physical destination = own ID works too; another ID does not.
    wr(0x310, 0x00000000);
    wr(0x300, 0x77);
    expect(apic.hasInterrupt()).toBe(true);
    wr(0x310, 0x05000000);
    wr(0x300, 0x78);
    expect(rd(0x200 + 0x30) & (1 << (0x78 & 31))).toBe(0);
  });

  it('illegal vectors set ESR after a write; software disable masks LVTs', () => {
    const { rd, wr } = setup();
    wr(0xf0, 0x1ff);
    wr(0x300, 0x40000 | 0x05);
    expect(rd(0x280)).toBe(0);
    wr(0x280, 0);
    expect(rd(0x280)).toBe(0x60);
    wr(0x280, 0);
    expect(rd(0x280)).toBe(0);
    wr(0x350, 0x700);
    expect(rd(0x350)).toBe(0x700);
    wr(0xf0, 0xff);
    expect(rd(0x350)).toBe(0x10700);
    wr(0x350, 0x700);
    expect(rd(0x350)).toBe(0x10700); // cannot unmask while disabled
  });

  it('timer: one-shot and periodic with the divide configuration', () => {
    const { rd, wr, run, line, apic } = setup();
    wr(0xf0, 0x1ff);
    wr(0x3e0, 0x3); // divide by 16
    wr(0x320, 0x40); // one-shot, vector 0x40
    wr(0x380, 1000); // 16000 ns at 1 GHz bus
    run(8000);
    expect(rd(0x390)).toBe(500);
    expect(line.pending()).toBe(false);
    run(8000);
    expect(rd(0x390)).toBe(0);
    expect(line.ack()).toBe(0x40);
    wr(0xb0, 0);
    run(100_000);
    expect(line.pending()).toBe(false);
    wr(0x3e0, 0xb); // divide by 1
    wr(0x320, 0x20041); // periodic, vector 0x41
    wr(0x380, 100);
    let n = 0;
    for (let i = 0; i < 10; i++) {
      run(100);
      if (apic.hasInterrupt()) {
        expect(line.ack()).toBe(0x41);
        wr(0xb0, 0);
        n++;
      }
    }
    expect(n).toBe(10);
    wr(0x320, 0x30041); // masked: counts on, no interrupts
    run(1000);
    expect(line.pending()).toBe(false);
    expect(rd(0x390)).toBeGreaterThan(0);
    wr(0x380, 0); // stop
    expect(rd(0x390)).toBe(0);
  });

  it('the PIC passes through while the APIC is disabled or LINT0 is ExtINT', () => {
    const { bus, wr, rd, pic, line, apic } = setup();
    initPic(bus);
    pic.setIrq(1, true);
    expect(line.pending()).toBe(true); // software-disabled APIC: virtual wire
    wr(0xf0, 0x1ff); // enable: LINT0 still masked
    expect(line.pending()).toBe(false);
    wr(0x350, 0x700); // ExtINT, unmasked
    expect(line.pending()).toBe(true);
    expect(line.ack()).toBe(0x21);
    // LINT0 in fixed mode: the PIC's INTR edge becomes an APIC vector.
    bus.ioWrite(0x20, 1, 0x20);
    wr(0x350, 0x0099);
    pic.setIrq(3, true);
    expect(rd(0x200 + 0x40) & (1 << (0x99 & 31))).not.toBe(0);
    expect(line.ack()).toBe(0x99);
    // Hardware disable through the MSR: MMIO page gone, PIC passes through.
    apic.wrmsr(MSR_IA32_APIC_BASE, 0xfee00000, 0);
    expect(bus.mmioRead(B + 0x30, 4)).toBe(0xffffffff);
    expect(line.pending()).toBe(true);
    expect(line.ack()).toBe(0x23);
  });

  it('relocates with IA32_APIC_BASE and keeps BSP read-only', () => {
    const { bus, apic } = setup();
    apic.wrmsr(MSR_IA32_APIC_BASE, 0xfed00800, 0);
    expect(apic.rdmsr(MSR_IA32_APIC_BASE)).toEqual([0xfed00900, 0]);
    expect(bus.mmioRead(0xfed00030, 4)).toBe(0x00050014);
    expect(bus.mmioRead(B + 0x30, 4)).toBe(0xffffffff);
  });

  it('state round-trips', () => {
    const a = setup();
    a.wr(0xf0, 0x1ff);
    a.wr(0x320, 0x20042);
    a.wr(0x380, 5000);
    a.run(1200);
    const s = JSON.parse(JSON.stringify(a.apic.saveState()));
    const b = setup();
    b.clock.set(a.clock.now());
    b.apic.loadState(s);
    expect(b.rd(0x390)).toBe(a.rd(0x390));
    expect(b.rd(0x320)).toBe(0x20042);
  });

  it('state round-trips exactly after the timer was stopped (snapshots hash the state)', () => {
    const a = setup();
    a.wr(0xf0, 0x1ff);
    a.wr(0x3e0, 0xb);
    a.wr(0x320, 0x40); // one-shot
    a.wr(0x380, 1000);
    a.run(500);
    a.wr(0x380, 0); // stopped: the timer no longer runs, its start time stays in the state
    const s = JSON.parse(JSON.stringify(a.apic.saveState()));
    expect(s.timerRunning).toBe(false);
    const b = setup();
    b.clock.set(a.clock.now());
    b.apic.loadState(s);
    expect(b.apic.saveState()).toEqual(s);
  });
});
