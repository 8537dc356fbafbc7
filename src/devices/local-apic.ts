// Local APIC, xAPIC mode (Intel SDM Vol.3A ch.10 "Advanced Programmable Interrupt
// Controller (APIC)"): registers in a 4 KiB MMIO page at IA32_APIC_BASE (MSR 0x1B,
// default 0xFEE00000), fixed interrupts through IRR/ISR/TMR with TPR/PPR
// priority (§10.8.3), EOI (§10.8.5), the spurious-vector register and software
// enable (§10.9, §10.4.7.2), ESR (§10.5.3), the ICR for IPIs to itself (§10.6),
// and the LVT with the timer in one-shot and periodic modes (§10.5.4).
// x2APIC and the TSC-deadline timer mode are not offered.

import type { AccessSize, MsrHandler } from '../cpu/interfaces';
import type { AioContext } from '../aio/aio-context';
import type { Clock } from '../aio/clock';
import type { Timer } from '../aio/timer';
import type { IoBus, IoRegion } from './bus';
import { checkState, type Device, type DeviceState } from './device';

export const MSR_IA32_APIC_BASE = 0x1b;
export const APIC_DEFAULT_BASE = 0xfee00000;
const BASE_BSP = 1 << 8;
const BASE_ENABLE = 1 << 11;

// LVT indices (in register order 0x320..0x370).
export const LVT_TIMER = 0;
export const LVT_THERMAL = 1;
export const LVT_PERF = 2;
export const LVT_LINT0 = 3;
export const LVT_LINT1 = 4;
export const LVT_ERROR = 5;
const LVT_COUNT = 6;
const LVT_MASKED = 1 << 16;
/** Writable bits per LVT entry (SDM Figure 10-8). */
const LVT_WMASK = [0x300ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff];
const TIMER_PERIODIC = 1 << 17;

export const DM_FIXED = 0;
export const DM_NMI = 4;
export const DM_EXTINT = 7;

// ESR bits (SDM Figure 10-9).
const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
const ESR_RECV_ILLEGAL_VECTOR = 1 << 6;
const ESR_ILLEGAL_REGISTER = 1 << 7;

export interface LocalApicOptions {
  id?: number;
  bsp?: boolean;
  /** APIC timer input clock (the bus clock) in Hz; default 1 GHz. */
  busHz?: number;
}

export interface LocalApicState extends DeviceState {
  device: 'local-apic';
  version: 1;
  baseMsr: number;
  id: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  esr: number;
  esrPending: number;
  icrLo: number;
  icrHi: number;
  lvt: number[];
  irr: number[];
  isr: number[];
  tmr: number[];
  initialCount: number;
  divideConfig: number;
  timerStartNs: number;
  timerCountAtStart: number;
  timerRunning: boolean;
}

function highestBit(v: Uint32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = v[i]!;
    if (w) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

export class LocalApic implements MsrHandler, Device<LocalApicState> {
  readonly name = 'local-apic';
  baseMsr = 0;
  id = 0;
  tpr = 0;
  ldr = 0;
  dfr = 0xffffffff;
  svr = 0xff;
  esr = 0;
  private esrPending = 0;
  icrLo = 0;
  icrHi = 0;
  readonly lvt = new Uint32Array(LVT_COUNT);
  readonly irr = new Uint32Array(8);
  readonly isr = new Uint32Array(8);
  readonly tmr = new Uint32Array(8);
  initialCount = 0;
  divideConfig = 0;
  private timerStartNs = 0;
  private timerCountAtStart = 0;
  private timerRunning = false;
  private readonly clock: Clock;
  private readonly timer: Timer;
  private region: IoRegion | null = null;
  private bus: IoBus | null = null;
  private readonly busHz: number;
  private readonly bsp: boolean;
  private readonly initialId: number;
  /** Called when an interrupt becomes deliverable (wake a halted vCPU, KVM injection). */
  onInterrupt: (() => void) | undefined;
  /** NMI delivered through LINT1 or an NMI IPI to self. */
  onNmi: (() => void) | undefined;
  /** EOI of a level-triggered vector (for an I/O APIC's remote IRR). */
  onLevelEoi: ((vector: number) => void) | undefined;
  /** IPIs that are not for this CPU alone go here (multi-processor machines). */
  onIpi: ((icrLo: number, icrHi: number) => void) | undefined;

  constructor(aio: AioContext, opts: LocalApicOptions = {}) {
    this.clock = aio.clock;
    this.timer = aio.newTimer(() => this.timerExpired(), 'lapic-timer');
    this.busHz = opts.busHz ?? 1e9;
    this.bsp = opts.bsp ?? true;
    this.initialId = opts.id ?? 0;
    this.reset();
  }

  /** Power-up / RESET state (SDM §10.4.7.1). */
  reset(): void {
    this.baseMsr = APIC_DEFAULT_BASE | BASE_ENABLE | (this.bsp ? BASE_BSP : 0);
    this.softReset();
    this.id = this.initialId;
    this.remap();
  }

  private softReset(): void {
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    this.esr = this.esrPending = 0;
    this.icrLo = this.icrHi = 0;
    this.lvt.fill(LVT_MASKED);
    this.irr.fill(0);
    this.irrCount = 0;
    this.isr.fill(0);
    this.tmr.fill(0);
    this.initialCount = 0;
    this.divideConfig = 0;
    this.timerRunning = false;
    this.timer.del();
  }

  attach(bus: IoBus): void {
    this.bus = bus;
    this.remap();
  }

  get hardwareEnabled(): boolean {
    return (this.baseMsr & BASE_ENABLE) !== 0;
  }

  get softwareEnabled(): boolean {
    return this.hardwareEnabled && (this.svr & 0x100) !== 0;
  }

  get base(): number {
    return (this.baseMsr & 0xfffff000) >>> 0;
  }

  /** The MMIO page is only decoded while the APIC is hardware-enabled. */
  private remap(): void {
    if (!this.bus) return;
    if (this.region) this.bus.unregister(this.region);
    this.region = null;
    if (this.hardwareEnabled) {
      this.region = this.bus.registerMmio('local-apic', this.base, 0x1000, {
        read: (off, size) => this.mmioRead(off, size),
        peek: (off, size) => this.mmioRead(off, size),
        write: (off, size, v) => this.mmioWrite(off, size, v),
      }, { unaligned: true });
    }
  }

  // ---- MsrHandler -----------------------------------------------------------

  rdmsr(msr: number): [number, number] | null {
    if (msr !== MSR_IA32_APIC_BASE) return null;
    return [this.baseMsr >>> 0, 0];
  }

  wrmsr(msr: number, lo: number, _hi: number): boolean {
    if (msr !== MSR_IA32_APIC_BASE) return false;
    const wasEnabled = this.hardwareEnabled;
    // BSP is read-only; bits 0-7, 9, 10 reserved.
    this.baseMsr = ((lo & 0xfffff800) | (this.baseMsr & BASE_BSP)) >>> 0;
    // Clearing the global enable is equivalent to a power-up reset of the APIC's
    // state (SDM §10.4.3); it stays disabled until the MSR enables it again.
    if (wasEnabled && !this.hardwareEnabled) this.softReset();
    this.remap();
    this.notify();
    return true;
  }

  // ---- interrupt acceptance and delivery -----------------------------------

  /** Processor priority (SDM §10.8.3.1). */
  ppr(): number {
    const isrv = highestBit(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr & 0xff : isrClass;
  }

  /** A fixed interrupt arriving at this APIC (from an LVT, an IPI or an I/O APIC). */
  accept(vector: number, level = false): void {
    if (!this.softwareEnabled) return;
    if (vector < 16) {
      this.raiseError(ESR_RECV_ILLEGAL_VECTOR);
      return;
    }
    const w = vector >> 5;
    const bit = 1 << (vector & 31);
    if (!(this.irr[w]! & bit)) this.irrCount++;
    this.irr[w] = this.irr[w]! | bit;
    this.tmr[w] = level ? this.tmr[w]! | bit : this.tmr[w]! & ~bit;
    this.notify();
  }

  /** Number of IRR bits set: the CPU asks hasInterrupt() at every instruction boundary, so the empty case is one compare. */
  private irrCount = 0;

  /** A deliverable fixed interrupt outranks the processor priority. */
  hasInterrupt(): boolean {
    if (this.irrCount === 0 || !this.softwareEnabled) return false;
    const v = highestBit(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0);
  }

  /** INTA: the highest IRR vector moves to ISR. */
  acknowledge(): number {
    const v = highestBit(this.irr);
    if (v < 0 || !this.hasInterrupt()) return this.svr & 0xff; // spurious vector (§10.9)
    const w = v >> 5;
    const bit = 1 << (v & 31);
    this.irr[w] = this.irr[w]! & ~bit;
    this.irrCount--;
    this.isr[w] = this.isr[w]! | bit;
    return v;
  }

  /**
   * Whether the 8259's INTR reaches the CPU: with the APIC hardware- or
   * software-disabled the LINT0 pin acts as a plain INTR input (the
   * through-local-APIC "virtual wire"), otherwise only while LVT LINT0 is an
   * unmasked ExtINT entry (SDM §10.5.1).
   */
  picPassthrough(): boolean {
    if (!this.softwareEnabled) return true;
    const l = this.lvt[LVT_LINT0]!;
    return !(l & LVT_MASKED) && ((l >> 8) & 7) === DM_EXTINT;
  }

  /** The LINT0/LINT1 pins (LINT0 is wired to the 8259 INTR, LINT1 to NMI). */
  setLint(pin: 0 | 1, level: boolean): void {
    if (!level || !this.softwareEnabled) return;
    const l = this.lvt[pin === 0 ? LVT_LINT0 : LVT_LINT1]!;
    if (l & LVT_MASKED) return;
    const dm = (l >> 8) & 7;
    if (dm === DM_FIXED) this.accept(l & 0xff, (l & (1 << 15)) !== 0);
    else if (dm === DM_NMI) this.onNmi?.();
  }

  private notify(): void {
    if (this.hasInterrupt()) this.onInterrupt?.();
  }

  private raiseError(bits: number): void {
    this.esrPending |= bits;
    const l = this.lvt[LVT_ERROR]!;
    if (!(l & LVT_MASKED)) this.accept(l & 0xff);
  }

  private eoi(): void {
    const v = highestBit(this.isr);
    if (v < 0) return;
    const w = v >> 5;
    const bit = 1 << (v & 31);
    this.isr[w] = this.isr[w]! & ~bit;
    if (this.tmr[w]! & bit) this.onLevelEoi?.(v);
    this.notify();
  }

  private sendIpi(): void {
    const lo = this.icrLo;
    const vector = lo & 0xff;
    const dm = (lo >> 8) & 7;
    const shorthand = (lo >> 18) & 3;
    const dest = this.icrHi >>> 24;
    let self: boolean;
    switch (shorthand) {
      case 1: self = true; break;
      case 2: self = true; break;
      case 3: self = false; break;
      default:
        if (lo & (1 << 11)) {
          // Logical destination, flat model: any common bit with LDR[31:24].
          self = (dest & (this.ldr >>> 24)) !== 0;
        } else {
          self = dest === 0xff || dest === this.id >>> 24;
        }
    }
    const others = shorthand === 2 || shorthand === 3 || (shorthand === 0 && (dest === 0xff || !self));
    if (others) this.onIpi?.(lo, this.icrHi);
    if (!self) return;
    if (dm === DM_FIXED || dm === 1) {
      if (vector < 16) this.raiseError(ESR_SEND_ILLEGAL_VECTOR | ESR_RECV_ILLEGAL_VECTOR);
      else this.accept(vector, false);
    } else if (dm === DM_NMI) {
      this.onNmi?.();
    }
    // INIT / SIPI / SMI to self are not modelled.
  }

  // ---- timer (SDM §10.5.4) -----------------------------------------------

  /** Timer input clocks per count: the divide configuration register (Figure 10-10). */
  divisor(): number {
    const v = ((this.divideConfig & 8) >> 1) | (this.divideConfig & 3);
    return 1 << ((v + 1) & 7);
  }

  private tickNs(): number {
    return (this.divisor() * 1e9) / this.busHz;
  }

  currentCount(now = this.clock.now()): number {
    if (!this.timerRunning) return 0;
    const elapsed = Math.floor((now - this.timerStartNs) / this.tickNs());
    return Math.max(0, this.timerCountAtStart - elapsed);
  }

  private startTimer(count: number, startNs: number): void {
    this.timerCountAtStart = count;
    this.timerStartNs = startNs;
    this.timerRunning = count > 0;
    if (this.timerRunning) this.timer.mod(Math.ceil(startNs + count * this.tickNs()));
    else this.timer.del();
  }

  private timerExpired(): void {
    const at = this.timerStartNs + this.timerCountAtStart * this.tickNs();
    const l = this.lvt[LVT_TIMER]!;
    if (!(l & LVT_MASKED)) this.accept(l & 0xff);
    if (l & TIMER_PERIODIC && this.initialCount > 0) this.startTimer(this.initialCount, at); // drift-free: from the exact expiry
    else {
      this.timerRunning = false;
      this.timerCountAtStart = 0;
    }
  }

  // ---- MMIO ------------------------------------------------------------------

  private readRegister(reg: number): number {
    switch (reg) {
      case 0x020: return this.id >>> 0;
      // Version 0x14 (integrated APIC), Max LVT Entry = entries - 1 (§10.4.8).
      case 0x030: return 0x14 | ((LVT_COUNT - 1) << 16);
      case 0x080: return this.tpr;
      case 0x090: return this.ppr(); // arbitration priority: approximated by PPR
      case 0x0a0: return this.ppr();
      case 0x0b0: return 0;
      case 0x0c0: return 0;
      case 0x0d0: return this.ldr >>> 0;
      case 0x0e0: return this.dfr >>> 0;
      case 0x0f0: return this.svr;
      case 0x280: return this.esr;
      case 0x300: return this.icrLo & ~(1 << 12); // delivery status: always idle
      case 0x310: return this.icrHi >>> 0;
      case 0x380: return this.initialCount >>> 0;
      case 0x390: return this.currentCount() >>> 0;
      case 0x3e0: return this.divideConfig;
      default:
        if (reg >= 0x100 && reg < 0x180) return this.isr[(reg - 0x100) >> 4]! >>> 0;
        if (reg >= 0x180 && reg < 0x200) return this.tmr[(reg - 0x180) >> 4]! >>> 0;
        if (reg >= 0x200 && reg < 0x280) return this.irr[(reg - 0x200) >> 4]! >>> 0;
        if (reg >= 0x320 && reg < 0x380) return this.lvt[(reg - 0x320) >> 4]! >>> 0;
        this.raiseError(ESR_ILLEGAL_REGISTER);
        return 0;
    }
  }

  private mmioRead(off: number, size: AccessSize): number {
    // Only the low dword of each 16-byte slot is a register; narrower reads see part of it.
    if ((off & 0xc) !== 0) return 0;
    const v = this.readRegister(off & 0xff0);
    return (v >>> ((off & 3) * 8)) & (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1);
  }

  private mmioWrite(off: number, size: AccessSize, value: number): void {
    // Registers are written with aligned 32-bit stores only (§10.4.1).
    if (size !== 4 || off & 0xf) return;
    const v = value >>> 0;
    switch (off) {
      case 0x020: this.id = v & 0xff000000; break;
      case 0x080: this.tpr = v & 0xff; this.notify(); break;
      case 0x0b0: this.eoi(); break;
      case 0x0d0: this.ldr = v & 0xff000000; break;
      case 0x0e0: this.dfr = (v | 0x0fffffff) >>> 0; break;
      case 0x0f0: {
        this.svr = v & 0x3ff;
        // Software disable masks every LVT entry (§10.4.7.2).
        if (!(v & 0x100)) for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] = this.lvt[i]! | LVT_MASKED;
        this.notify();
        break;
      }
      case 0x280:
        // A write latches the errors collected since the last write (§10.5.3).
        this.esr = this.esrPending;
        this.esrPending = 0;
        break;
      case 0x300: this.icrLo = v & 0x000ccfff; this.sendIpi(); break;
      case 0x310: this.icrHi = v & 0xff000000; break;
      case 0x380:
        this.initialCount = v;
        this.startTimer(v, this.clock.now());
        break;
      case 0x3e0: {
        const now = this.clock.now();
        const cur = this.currentCount(now);
        this.divideConfig = v & 0xb;
        if (this.timerRunning) this.startTimer(cur, now);
        break;
      }
      default:
        if (off >= 0x320 && off < 0x380) {
          const i = (off - 0x320) >> 4;
          let nv = (this.lvt[i]! & ~LVT_WMASK[i]!) | (v & LVT_WMASK[i]!);
          if (!this.softwareEnabled) nv |= LVT_MASKED;
          this.lvt[i] = nv;
        } else if (off !== 0x030 && off !== 0x090 && off !== 0x0a0 && off !== 0x390 && !(off >= 0x100 && off < 0x280)) {
          this.raiseError(ESR_ILLEGAL_REGISTER);
        }
    }
  }

  saveState(): LocalApicState {
    return {
      device: 'local-apic', version: 1, baseMsr: this.baseMsr, id: this.id, tpr: this.tpr, ldr: this.ldr,
      dfr: this.dfr, svr: this.svr, esr: this.esr, esrPending: this.esrPending, icrLo: this.icrLo, icrHi: this.icrHi,
      lvt: [...this.lvt], irr: [...this.irr], isr: [...this.isr], tmr: [...this.tmr],
      initialCount: this.initialCount, divideConfig: this.divideConfig, timerStartNs: this.timerStartNs,
      timerCountAtStart: this.timerCountAtStart, timerRunning: this.timerRunning,
    };
  }

  loadState(s: LocalApicState): void {
    checkState(s, 'local-apic', 1);
    this.baseMsr = s.baseMsr; this.id = s.id; this.tpr = s.tpr; this.ldr = s.ldr; this.dfr = s.dfr;
    this.svr = s.svr; this.esr = s.esr; this.esrPending = s.esrPending; this.icrLo = s.icrLo; this.icrHi = s.icrHi;
    this.lvt.set(s.lvt); this.irr.set(s.irr); this.isr.set(s.isr); this.tmr.set(s.tmr);
    this.irrCount = this.irr.reduce((n, w) => { let c = 0; for (let x = w; x; x &= x - 1) c++; return n + c; }, 0);
    this.initialCount = s.initialCount; this.divideConfig = s.divideConfig;
    if (s.timerRunning) this.startTimer(s.timerCountAtStart, s.timerStartNs);
    else { this.timerRunning = false; this.timer.del(); this.timerStartNs = s.timerStartNs; this.timerCountAtStart = s.timerCountAtStart; }
    this.remap();
  }
}
