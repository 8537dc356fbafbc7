// National Semiconductor PC16550D UART (datasheet, June 1995: Table II "Interrupt
// Control Functions", "FIFO Interrupt Mode Operation", section 8.x registers).
//
// Timing: a character takes (start + data + parity + stop bits) × 16 × divisor
// clocks of the 1.8432 MHz reference, on the AioContext clock, both ways. Host
// input is queued and fed into the receiver one character time apart, and only
// while the receiver has room, so pasted input is never lost to overrun (a real
// line would overrun; host flow control is nicer). Loopback traffic can overrun.
//
// PC wiring: the INTRPT output reaches the PIC only while MCR.OUT2 is set (OUT2
// enables the IRQ driver on the PC/AT serial adapter); in loopback OUT2 is forced
// inactive, so loopback interrupts stay internal (IIR still shows them).

import type { AccessSize } from '../cpu/interfaces';
import type { AioContext } from '../aio/aio-context';
import type { Clock } from '../aio/clock';
import type { Timer } from '../aio/timer';
import type { IoBus } from './bus';
import type { CharBackend } from './chardev';
import { checkState, type Device, type DeviceState } from './device';
import type { IrqLine } from './irq';

const XTAL_HZ = 1_843_200;
const FIFO_SIZE = 16;

// IER
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IER_RLS = 0x04;
const IER_MS = 0x08;
// LSR
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_PE = 0x04;
const LSR_FE = 0x08;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;
// MCR
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
// IIR identification codes, in priority order.
export const IIR_NONE = 0x01;
export const IIR_RLS = 0x06;
export const IIR_RDA = 0x04;
export const IIR_TIMEOUT = 0x0c;
export const IIR_THRE = 0x02;
export const IIR_MSR = 0x00;

const RX_TRIGGER = [1, 4, 8, 14];

export interface UartState extends DeviceState {
  device: 'uart16550a';
  version: 1;
  ier: number; lcr: number; mcr: number; fcr: number; scr: number; dll: number; dlm: number;
  lsrErrors: number; msrDelta: number; msrLines: number;
  rx: number[]; tx: number[]; tsr: number; thrInt: boolean; lastRxNs: number;
  hostInput: number[]; txDoneNs: number; rxNextNs: number;
}

/** Character frame time in 'fast' line timing. */
export const FAST_CHAR_NS = 1000;

export class Uart16550 implements Device<UartState> {
  ier = 0;
  lcr = 0;
  mcr = 0;
  fcr = 0;
  scr = 0;
  dll = 0x0c; // 9600 baud, the usual power-on BIOS setting
  dlm = 0;
  private lsrErrors = 0;
  private msrDelta = 0;
  /** Modem status input lines, MSR bits 7-4 layout. */
  private msrLines = 0;
  private rx: number[] = [];
  private tx: number[] = [];
  /** Byte in the transmit shift register, or -1. */
  private tsr = -1;
  /** THRE interrupt latch: set when THR empties, cleared by IIR read or THR write. */
  private thrInt = false;
  private lastRxNs = 0;
  private hostInput: number[] = [];
  private readonly clock: Clock;
  private readonly txTimer: Timer;
  private readonly rxTimer: Timer;
  private readonly timeoutTimer: Timer;

  constructor(
    readonly name: string,
    aio: AioContext,
    private readonly irq: IrqLine,
    private readonly backend: CharBackend,
  ) {
    this.clock = aio.clock;
    this.txTimer = aio.newTimer(() => this.txDone(), `${name}-tx`);
    this.rxTimer = aio.newTimer(() => this.rxArrive(), `${name}-rx`);
    this.timeoutTimer = aio.newTimer(() => this.updateIrq(), `${name}-timeout`);
    backend.setReceiver((d) => this.hostReceive(d));
    this.reset();
  }

  reset(): void {
    this.ier = this.lcr = this.mcr = this.fcr = this.scr = 0;
    this.dll = 0x0c;
    this.dlm = 0;
    this.lsrErrors = this.msrDelta = 0;
    this.rx = [];
    this.tx = [];
    this.tsr = -1;
    this.thrInt = false;
    this.lastRxNs = this.clock.now();
    this.txTimer.del();
    this.rxTimer.del();
    this.timeoutTimer.del();
    this.msrLines = this.externalModemLines();
    this.scheduleRx();
    this.updateIrq();
  }

  attach(bus: IoBus, base: number): void {
    bus.registerPorts(this.name, base, 8, {
      read: (off) => this.read(off),
      peek: (off) => this.peek(off),
      write: (off, _s: AccessSize, v) => this.write(off, v),
    }, { sizes: 1 });
  }

  // ---- derived state ----------------------------------------------------

  get fifoEnabled(): boolean {
    return (this.fcr & 1) !== 0;
  }

  private get loop(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  private get divisor(): number {
    return (this.dlm << 8) | this.dll || 0x10000;
  }

  /**
   * Line timing. 'real' paces characters at the programmed baud rate (a polling guest
   * waits as long as on hardware); 'fast' sends a transmitted character at once (THRE
   * and its interrupt immediately, as QEMU does) and makes other character frames
   * (receive timeouts, loopback) take 1 µs, so consoles run at host speed.
   */
  lineTiming: 'real' | 'fast' = 'real';

  /** Duration of one character frame on the line, in ns. */
  charTimeNs(): number {
    if (this.lineTiming === 'fast') return FAST_CHAR_NS;
    const data = 5 + (this.lcr & 3);
    const parity = this.lcr & 0x08 ? 1 : 0;
    const stop = this.lcr & 0x04 ? (data === 5 ? 1.5 : 2) : 1;
    return Math.ceil(((1 + data + parity + stop) * 16 * this.divisor * 1e9) / XTAL_HZ);
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  private get txCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  /** A line with a terminal attached: CTS, DSR and DCD asserted. */
  private externalModemLines(): number {
    return 0xb0;
  }

  private loopModemLines(): number {
    // Loopback (datasheet 8.6): CTS<-RTS, DSR<-DTR, RI<-OUT1, DCD<-OUT2.
    const m = this.mcr;
    return (m & MCR_RTS ? 0x10 : 0) | (m & MCR_DTR ? 0x20 : 0) | (m & MCR_OUT1 ? 0x40 : 0) | (m & MCR_OUT2 ? 0x80 : 0);
  }

  private setModemLines(lines: number): void {
    const changed = lines ^ this.msrLines;
    if (changed & 0x10) this.msrDelta |= 0x01; // DCTS
    if (changed & 0x20) this.msrDelta |= 0x02; // DDSR
    if (changed & 0x40 && !(lines & 0x40)) this.msrDelta |= 0x04; // TERI: RI trailing edge
    if (changed & 0x80) this.msrDelta |= 0x08; // DDCD
    this.msrLines = lines;
  }

  private lsr(): number {
    let v = this.lsrErrors;
    if (this.rx.length) v |= LSR_DR;
    if (this.tx.length === 0) v |= LSR_THRE;
    if (this.tx.length === 0 && this.tsr < 0) v |= LSR_TEMT;
    return v;
  }

  private timeoutActive(): boolean {
    return this.fifoEnabled && this.rx.length > 0 && this.clock.now() >= this.lastRxNs + 4 * this.charTimeNs();
  }

  /** Highest-priority pending interrupt as an IIR code (datasheet Table II). */
  interruptId(): number {
    if (this.ier & IER_RLS && this.lsrErrors & LSR_ERRORS) return IIR_RLS;
    if (this.ier & IER_RDA) {
      const trigger = this.fifoEnabled ? RX_TRIGGER[this.fcr >> 6]! : 1;
      if (this.rx.length >= trigger) return IIR_RDA;
      if (this.timeoutActive()) return IIR_TIMEOUT;
    }
    if (this.ier & IER_THRE && this.thrInt) return IIR_THRE;
    if (this.ier & IER_MS && this.msrDelta) return IIR_MSR;
    return IIR_NONE;
  }

  updateIrq(): void {
    const id = this.interruptId();
    const gated = (this.mcr & MCR_OUT2) !== 0 && !this.loop;
    this.irq.set(id !== IIR_NONE && gated);
    // Arm the character-timeout check (4 character times without FIFO activity).
    if (this.fifoEnabled && this.rx.length && this.ier & IER_RDA && !this.timeoutActive()) {
      const at = this.lastRxNs + 4 * this.charTimeNs();
      if (at > this.clock.now() && this.timeoutTimer.expireNs !== at) this.timeoutTimer.mod(at);
    } else {
      this.timeoutTimer.del();
    }
  }

  // ---- register access ----------------------------------------------------

  private read(off: number): number {
    let v: number;
    switch (off) {
      case 0:
        if (this.lcr & 0x80) return this.dll;
        v = this.rx.length ? this.rx.shift()! : 0;
        this.lastRxNs = this.clock.now();
        this.scheduleRx();
        break;
      case 2: {
        const id = this.interruptId();
        // Reading IIR clears a THRE interrupt it reports (Table II).
        if (id === IIR_THRE) this.thrInt = false;
        v = id | (this.fifoEnabled ? 0xc0 : 0);
        break;
      }
      case 5:
        v = this.lsr();
        this.lsrErrors = 0;
        break;
      case 6:
        v = this.msrLines | this.msrDelta;
        this.msrDelta = 0;
        break;
      default:
        return this.peek(off);
    }
    this.updateIrq();
    return v;
  }

  /** Register contents without side effects (the debugger's view). */
  peek(off: number): number {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (off) {
      case 0:
        return dlab ? this.dll : (this.rx[0] ?? 0);
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2:
        return this.interruptId() | (this.fifoEnabled ? 0xc0 : 0);
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return this.lsr();
      case 6:
        return this.msrLines | this.msrDelta;
      default:
        return this.scr;
    }
  }

  private write(off: number, v: number): void {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (off) {
      case 0:
        if (dlab) this.dll = v;
        else this.writeThr(v);
        break;
      case 1:
        if (dlab) this.dlm = v;
        else {
          // Enabling ETBEI while THR is empty raises THRE at once (Table II note).
          if (v & IER_THRE && !(this.ier & IER_THRE) && this.tx.length === 0) this.thrInt = true;
          this.ier = v & 0x0f;
        }
        break;
      case 2:
        this.writeFcr(v);
        break;
      case 3:
        this.lcr = v;
        break;
      case 4: {
        this.mcr = v & 0x1f;
        this.setModemLines(this.loop ? this.loopModemLines() : this.externalModemLines());
        break;
      }
      case 5:
        break; // LSR is read-only (factory test only)
      case 6:
        break;
      default:
        this.scr = v;
    }
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const wasEnabled = this.fifoEnabled;
    const enable = (v & 1) !== 0;
    // Changing the FIFO enable clears both FIFOs (datasheet 8.4, FCR bit 0).
    if (enable !== wasEnabled || v & 0x02) {
      this.rx = [];
      this.lsrErrors &= ~LSR_OE;
      this.scheduleRx();
    }
    if (enable !== wasEnabled || v & 0x04) {
      this.tx = [];
      if (this.tsr < 0) this.thrInt = true;
    }
    this.fcr = enable ? v & 0xc9 : 0;
  }

  private writeThr(v: number): void {
    this.thrInt = false;
    if (this.lineTiming === 'fast' && !this.loop && this.tx.length === 0 && this.tsr < 0) {
      // Fast line: the character leaves at once and THR is empty again (THRE interrupt
      // pending), as in QEMU. No timer per character.
      this.backend.write(Uint8Array.of(v));
      this.thrInt = true;
      return;
    }
    if (this.tx.length >= this.txCapacity) {
      if (!this.fifoEnabled) this.tx[0] = v; // 16450: overwrites the holding register
      return; // FIFO full: the byte is lost, as on hardware
    }
    this.tx.push(v);
    if (this.tsr < 0) this.startTx();
  }

  private startTx(): void {
    this.tsr = this.tx.shift()!;
    if (this.tx.length === 0) this.thrInt = true;
    this.txTimer.mod(this.clock.now() + this.charTimeNs());
  }

  private txDone(): void {
    const byte = this.tsr;
    this.tsr = -1;
    if (byte >= 0) {
      if (this.loop) this.receiveFromLine(byte);
      else this.backend.write(Uint8Array.of(byte));
    }
    if (this.tx.length) this.startTx();
    this.updateIrq();
  }

  /**
   * Emit everything still in the shifter and the transmit FIFO at once. For a
   * machine that stops (guest exit) while a character is on the line: the line
   * would have finished sending it.
   */
  flush(): void {
    if (this.tsr >= 0 && !this.loop) this.backend.write(Uint8Array.of(this.tsr));
    if (!this.loop && this.tx.length) this.backend.write(Uint8Array.from(this.tx));
    this.tsr = -1;
    this.tx = [];
    this.txTimer.del();
    this.thrInt = true;
    this.updateIrq();
  }

  // ---- receive ------------------------------------------------------------

  private hostReceive(data: Uint8Array): void {
    for (const b of data) this.hostInput.push(b);
    this.scheduleRx();
  }

  private scheduleRx(): void {
    if (this.rxTimer.pending || this.loop || this.hostInput.length === 0) return;
    if (this.rx.length >= this.rxCapacity) return; // resumed when the guest reads
    this.rxTimer.mod(this.clock.now() + this.charTimeNs());
  }

  private rxArrive(): void {
    if (this.hostInput.length && !this.loop && this.rx.length < this.rxCapacity) {
      this.receiveFromLine(this.hostInput.shift()!);
    }
    this.scheduleRx();
    this.updateIrq();
  }

  /** A complete character arrived in the receive shift register. */
  receiveFromLine(byte: number): void {
    if (this.rx.length >= this.rxCapacity) {
      this.lsrErrors |= LSR_OE;
      if (!this.fifoEnabled) this.rx[0] = byte; // 16450: RBR overwritten
    } else {
      this.rx.push(byte & ((1 << (5 + (this.lcr & 3))) - 1));
    }
    this.lastRxNs = this.clock.now();
    this.updateIrq();
  }

  /** A break condition on the line: a zero character with BI (and FE) set. */
  receiveBreak(): void {
    this.lsrErrors |= LSR_BI | LSR_FE;
    this.receiveFromLine(0);
  }

  /** Inject a framing or parity error (for tests of the line status interrupt). */
  receiveWithError(byte: number, error: 'parity' | 'framing'): void {
    this.lsrErrors |= error === 'parity' ? LSR_PE : LSR_FE;
    this.receiveFromLine(byte);
  }

  saveState(): UartState {
    return {
      device: 'uart16550a', version: 1,
      ier: this.ier, lcr: this.lcr, mcr: this.mcr, fcr: this.fcr, scr: this.scr, dll: this.dll, dlm: this.dlm,
      lsrErrors: this.lsrErrors, msrDelta: this.msrDelta, msrLines: this.msrLines,
      rx: [...this.rx], tx: [...this.tx], tsr: this.tsr, thrInt: this.thrInt, lastRxNs: this.lastRxNs,
      hostInput: [...this.hostInput], txDoneNs: this.txTimer.expireNs, rxNextNs: this.rxTimer.expireNs,
    };
  }

  loadState(s: UartState): void {
    checkState(s, 'uart16550a', 1);
    this.ier = s.ier; this.lcr = s.lcr; this.mcr = s.mcr; this.fcr = s.fcr; this.scr = s.scr;
    this.dll = s.dll; this.dlm = s.dlm; this.lsrErrors = s.lsrErrors; this.msrDelta = s.msrDelta;
    this.msrLines = s.msrLines; this.rx = [...s.rx]; this.tx = [...s.tx]; this.tsr = s.tsr;
    this.thrInt = s.thrInt; this.lastRxNs = s.lastRxNs; this.hostInput = [...s.hostInput];
    if (s.txDoneNs >= 0) this.txTimer.mod(s.txDoneNs); else this.txTimer.del();
    if (s.rxNextNs >= 0) this.rxTimer.mod(s.rxNextNs); else this.rxTimer.del();
    this.updateIrq();
  }
}
