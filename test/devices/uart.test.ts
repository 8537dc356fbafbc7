import { describe, expect, it } from 'vitest';
import { AioContext } from '../../src/aio/aio-context';
import { ManualClock } from '../../src/aio/clock';
import { IoBus } from '../../src/devices/bus';
import { BufferCharBackend } from '../../src/devices/chardev';
import { IrqLine } from '../../src/devices/irq';
import { Uart16550 } from '../../src/devices/uart16550';

const COM1 = 0x3f8;
const [RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR] = [0, 1, 2, 3, 4, 5, 6, 7].map((o) => COM1 + o) as number[];
const FCR = IIR!;

function setup() {
  const clock = new ManualClock();
  const aio = new AioContext({ clock });
  const bus = new IoBus();
  const irq = new IrqLine();
  const chr = new BufferCharBackend();
  const uart = new Uart16550('com1', aio, irq, chr);
  uart.attach(bus, COM1);
  const out = (p: number, v: number): void => bus.ioWrite(p, 1, v);
  const inb = (p: number): number => bus.ioRead(p, 1);
  // 115200 8N1 as Linux sets it: divisor 1.
  out(LCR!, 0x80);
  out(RBR!, 1);
  out(IER!, 0);
  out(LCR!, 0x03);
  const charNs = uart.charTimeNs();
  const run = (ns: number): void => {
    const end = clock.now() + ns;
    for (;;) {
      const d = aio.nextDeadline();
      if (d < 0 || d > end) break;
      clock.set(Math.max(d, clock.now()));
      aio.poll(false);
    }
    clock.set(end);
    aio.poll(false);
  };
  return { clock, aio, bus, irq, chr, uart, out, inb, charNs, run };
}

describe('16550A UART', () => {
  it('has the right character time and transmits by polling THRE', () => {
    const { out, inb, chr, charNs, run } = setup();
    expect(charNs).toBe(Math.ceil((10 * 16 * 1e9) / 1_843_200)); // 86.8 µs at 115200 8N1
    for (const c of 'hi\n') {
      let spins = 0;
      while (!(inb(LSR!) & 0x20)) {
        run(1000);
        if (++spins > 1e5) throw new Error('THRE stuck');
      }
      out(RBR!, c.charCodeAt(0));
    }
    expect(chr.text).toBe('h'); // 'i' in the shifter, '\n' in THR
    run(3 * charNs);
    expect(chr.text).toBe('hi\n');
    expect(inb(LSR!) & 0x60).toBe(0x60); // THRE and TEMT
  });

  it('interrupt-driven transmit: THRE interrupt, cleared by IIR read or THR write', () => {
    const { out, inb, irq, chr, charNs, run } = setup();
    out(FCR, 0x07); // enable and clear FIFOs
    out(MCR!, 0x0b); // DTR RTS OUT2 (OUT2 gates IRQ4 on the PC)
    expect(irq.high).toBe(false);
    out(IER!, 0x02);
    expect(irq.high).toBe(true); // THR empty when ETBEI is enabled
    expect(inb(IIR!)).toBe(0xc2);
    expect(irq.high).toBe(false); // IIR read cleared it
    expect(inb(IIR!)).toBe(0xc1);
    const msg = 'interrupt driven!';
    for (const c of msg.slice(0, 16)) out(RBR!, c.charCodeAt(0));
    expect(irq.high).toBe(false);
    expect(inb(LSR!) & 0x20).toBe(0);
    // 1 byte in the shifter, 15 in the FIFO: THRE rises when the last moves out.
    run(14.5 * charNs);
    expect(irq.high).toBe(false);
    run(charNs);
    expect(irq.high).toBe(true);
    expect(inb(LSR!) & 0x60).toBe(0x20); // THRE but not TEMT
    out(RBR!, msg.charCodeAt(16)); // writing THR clears it
    expect(irq.high).toBe(false);
    run(3 * charNs);
    expect(chr.text).toBe(msg);
    expect(irq.high).toBe(true);
    expect(inb(IIR!)).toBe(0xc2);
  });

  it('receive: RDA at the FIFO trigger level, then the character timeout', () => {
    const { out, inb, irq, chr, charNs, run } = setup();
    out(FCR, 0x87); // FIFO, trigger level 8
    out(MCR!, 0x08);
    out(IER!, 0x01);
    chr.input('0123456789');
    run(7.5 * charNs);
    expect(inb(LSR!) & 1).toBe(1);
    expect(irq.high).toBe(false);
    run(charNs);
    expect(irq.high).toBe(true);
    expect(inb(IIR!)).toBe(0xc4);
    let got = '';
    for (let i = 0; i < 8; i++) got += String.fromCharCode(inb(RBR!));
    expect(irq.high).toBe(false); // below the trigger level again
    run(2 * charNs); // the last two arrive
    expect(irq.high).toBe(false);
    run(3.2 * charNs);
    expect(irq.high).toBe(false);
    run(charNs); // 4 character times without activity
    expect(irq.high).toBe(true);
    expect(inb(IIR!)).toBe(0xcc);
    got += String.fromCharCode(inb(RBR!));
    expect(irq.high).toBe(false); // reading RBR clears the timeout
    got += String.fromCharCode(inb(RBR!));
    expect(got).toBe('0123456789');
    expect(inb(LSR!) & 1).toBe(0);
    run(10 * charNs);
    expect(irq.high).toBe(false);
  });

  it('trigger levels 1, 4 and 14', () => {
    for (const [fcr, level] of [[0x01, 1], [0x41, 4], [0xc1, 14]] as const) {
      const { out, inb, chr, charNs, run } = setup();
      out(FCR, fcr);
      out(IER!, 0x01);
      chr.input('x'.repeat(16));
      run((level - 0.5) * charNs);
      expect(inb(IIR!) & 0x0f).toBe(level === 1 ? 0x01 : 0x01);
      run(charNs);
      expect(inb(IIR!)).toBe(0xc4);
    }
  });

  it('line status interrupt has the highest priority; LSR read clears it', () => {
    const { out, inb, uart, irq } = setup();
    out(MCR!, 0x08);
    out(IER!, 0x0f);
    expect(inb(IIR!)).toBe(0x02); // THRE (no FIFO: bits 7-6 clear)
    uart.receiveWithError(0x55, 'parity');
    expect(inb(IIR!)).toBe(0x06);
    expect(irq.high).toBe(true);
    expect(inb(LSR!) & 0x05).toBe(0x05);
    expect(inb(IIR!)).toBe(0x04); // then the data
    expect(inb(RBR!)).toBe(0x55);
    uart.receiveBreak();
    expect(inb(LSR!) & 0x1c).toBe(0x18);
  });

  it('loopback: data and modem lines come back, no IRQ reaches the PIC', () => {
    const { out, inb, irq, chr, charNs, run } = setup();
    out(IER!, 0x09);
    out(MCR!, 0x10 | 0x08);
    expect(inb(MSR!) & 0xf0).toBe(0x80); // DCD <- OUT2
    out(MCR!, 0x10 | 0x02); // RTS on, OUT2 off
    expect(inb(IIR!)).toBe(0x00); // modem status interrupt, internal only
    expect(irq.high).toBe(false);
    expect(inb(MSR!)).toBe(0x10 | 0x01 | 0x08); // CTS, DCTS, DDCD
    out(RBR!, 0x41);
    out(RBR!, 0x42);
    run(3 * charNs);
    expect(chr.text).toBe('');
    // Non-FIFO: the second char overran the first.
    expect(inb(LSR!) & 0x03).toBe(0x03);
    expect(inb(RBR!)).toBe(0x42);
    out(SCR!, 0x5a);
    expect(inb(SCR!)).toBe(0x5a);
  });

  it('passes the Linux 8250 autoconfig probe as a 16550A', () => {
    const { out, inb } = setup();
    // IER test (drivers/tty/serial/8250/8250_port.c, autoconfig)
    out(IER!, 0);
    expect(inb(IER!) & 0x0f).toBe(0);
    out(IER!, 0x0f);
    expect(inb(IER!) & 0x0f).toBe(0x0f);
    out(IER!, 0);
    // Loopback: RTS -> CTS, OUT2 -> DCD gives 0x90 in MSR.
    out(MCR!, 0x10 | 0x0a);
    expect(inb(MSR!) & 0xf0).toBe(0x90);
    out(MCR!, 0);
    // FIFO type: IIR bits 7-6 = 11 with the FIFO enabled.
    out(FCR, 0x01);
    expect(inb(IIR!) >> 6).toBe(3);
    // No 64-byte FIFO (16750 check): IIR bit 5 stays clear.
    out(LCR!, 0x80);
    out(FCR, 0x21);
    out(LCR!, 0x03);
    expect(inb(IIR!) & 0x20).toBe(0);
  });

  it('talks to a host fd backend (file output)', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { FdCharBackend } = await import('../../src/devices/chardev');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts86-uart-'));
    const file = path.join(dir, 'out.txt');
    const fd = fs.openSync(file, 'w');
    const clock = new ManualClock();
    const aio = new AioContext({ clock });
    const bus = new IoBus();
    const uart = new Uart16550('com2', aio, new IrqLine(), new FdCharBackend(fd));
    uart.attach(bus, 0x2f8);
    for (const c of 'file!') bus.ioWrite(0x2f8, 1, c.charCodeAt(0));
    uart.flush();
    fs.closeSync(fd);
    // No FIFO: 'f' went to the shifter, THR kept only the last byte written ('!').
    expect(fs.readFileSync(file, 'utf8')).toBe('f!');
  });

  it('peek has no side effects; state round-trips', () => {
    const { out, bus, chr, charNs, run, uart, inb } = setup();
    out(FCR, 0x01);
    chr.input('ab');
    run(2 * charNs);
    expect(bus.peekPort(RBR!, 1)).toBe(0x61);
    expect(bus.peekPort(RBR!, 1)).toBe(0x61);
    const s = JSON.parse(JSON.stringify(uart.saveState()));
    expect(inb(RBR!)).toBe(0x61);
    uart.loadState(s);
    expect(inb(RBR!)).toBe(0x61);
    expect(inb(RBR!)).toBe(0x62);
  });
});

describe('16550A UART, fast line timing (the Machine default)', () => {
  it('sends transmitted characters at once with THRE and its interrupt, and 1 µs frames elsewhere', () => {
    const { out, inb, chr, uart, irq } = setup();
    uart.lineTiming = 'fast';
    expect(uart.charTimeNs()).toBe(1000);
    out(FCR, 0x07); // FIFO on
    out(MCR!, 0x08); // OUT2: interrupts reach the PIC
    out(IER!, 0x02); // THRE interrupt
    for (const c of 'fast line') {
      out(RBR!, c.charCodeAt(0));
      expect(inb(LSR!) & 0x20).toBe(0x20); // THR empty again at once: no timer, no waiting
    }
    expect(chr.text).toBe('fast line');
    expect(inb(LSR!) & 0x60).toBe(0x60); // THRE and TEMT
    expect(irq.high).toBe(true);
    expect(inb(IIR!) & 0x0f).toBe(0x02); // THRE interrupt identified
  });
});
