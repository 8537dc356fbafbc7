// Motorola MC146818A real-time clock and CMOS RAM behind ports 0x70 (index; bit 7
// masks NMI on the PC/AT) and 0x71 (data). Datasheet references: "Address Map"
// (registers 0-13), "Register A-D", "Update Cycle", "Interrupts".
//
// Time is epochSeconds (configured, Unix seconds at clock time 0) plus the
// AioContext clock; the device never reads host time. Interrupt flags are derived
// lazily from the clock, and a timer is armed only while an interrupt source is
// enabled, so an idle RTC costs nothing and virtual time can skip ahead.

import type { AccessSize } from '../cpu/interfaces';
import type { AioContext } from '../aio/aio-context';
import type { Clock } from '../aio/clock';
import type { Timer } from '../aio/timer';
import type { IoBus } from './bus';
import { type CivilTime, civilFromSeconds, secondsFromCivil } from './civil-time';
import { checkState, type Device, type DeviceState } from './device';
import type { IrqLine } from './irq';

const SEC = 1e9;
/** UIP is set this long before each update (datasheet: tBUC = 244 µs). */
const UIP_LEAD_NS = 244_000;

const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_DM_BINARY = 0x04;
const B_24H = 0x02;
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

export const CMOS_CENTURY = 0x32;

export interface RtcOptions {
  /** Unix seconds (UTC) of the guest's clock at time 0. Default 2000-01-01T00:00:00Z. */
  epochSeconds?: number;
}

export interface RtcState extends DeviceState {
  device: 'mc146818';
  version: 1;
  cmos: number[];
  index: number;
  nmiMasked: boolean;
  baseSeconds: number;
  baseNs: number;
  flagsCheckedNs: number;
}

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 0xf);
}

export class Rtc implements Device<RtcState> {
  readonly name = 'mc146818';
  readonly cmos = new Uint8Array(128);
  private index = 0;
  /** Port 0x70 bit 7: NMI masked. */
  nmiMasked = true;
  /** Guest time (Unix seconds) at clock time `baseNs`; seconds tick at baseNs + k·1e9. */
  private baseSeconds = 0;
  private baseNs = 0;
  private flagsCheckedNs = 0;
  private readonly clock: Clock;
  private readonly timer: Timer;
  private readonly epochSeconds: number;

  constructor(
    aio: AioContext,
    private readonly irq8: IrqLine,
    opts: RtcOptions = {},
  ) {
    this.clock = aio.clock;
    this.epochSeconds = opts.epochSeconds ?? 946_684_800;
    this.timer = aio.newTimer(() => this.onTimer(), 'rtc');
    this.reset();
  }

  /** Power-on: time from the epoch, 32.768 kHz divider, 24h BCD as PC BIOSes set it. */
  reset(): void {
    const keep = this.cmos.slice(0x0e);
    this.cmos.fill(0);
    this.cmos.set(keep, 0x0e);
    const now = this.clock.now();
    this.baseNs = now;
    this.baseSeconds = this.epochSeconds + Math.floor(now / SEC);
    this.cmos[REG_A] = 0x26;
    this.cmos[REG_B] = B_24H;
    this.cmos[REG_D] = 0x80; // VRT: battery good
    this.flagsCheckedNs = now;
    this.nmiMasked = true;
    this.index = 0;
    this.storeCentury();
    this.updateIrq();
  }

  attach(bus: IoBus): void {
    bus.registerPorts('rtc', 0x70, 2, {
      read: (off) => (off === 0 ? 0xff : this.readData(true)),
      peek: (off) => (off === 0 ? 0xff : this.readData(false)),
      write: (off, _s: AccessSize, v) => {
        if (off === 0) {
          this.index = v & 0x7f;
          this.nmiMasked = (v & 0x80) !== 0;
        } else this.writeData(v);
      },
    }, { sizes: 1 });
  }

  // ---- CMOS memory layout (IBM PC/AT, plus the SeaBIOS/QEMU extensions) -------

  /** Fill the memory-size bytes the BIOS and bootloaders read. */
  setMemorySize(ramBytes: number): void {
    const KB = 1024;
    const MB = 1024 * KB;
    this.setWord(0x15, 640); // base memory in KiB
    const extKb = Math.min(0xffff, Math.max(0, Math.floor((Math.min(ramBytes, 0x100000000) - MB) / KB)));
    this.setWord(0x17, extKb); // extended memory above 1 MiB, KiB
    this.setWord(0x30, extKb); // same, as POST measured it
    const below4g = Math.min(ramBytes, 0xe0000000);
    const above16m = Math.min(0xffff, Math.max(0, Math.floor((below4g - 16 * MB) / (64 * KB))));
    this.setWord(0x34, above16m); // 64 KiB units above 16 MiB
    const above4g = Math.max(0, Math.floor((ramBytes - 0x100000000) / (64 * KB)));
    this.cmos[0x5b] = above4g & 0xff;
    this.cmos[0x5c] = (above4g >> 8) & 0xff;
    this.cmos[0x5d] = (above4g >> 16) & 0xff;
    this.updateChecksum();
  }

  setCpuCount(n: number): void {
    this.cmos[0x5f] = Math.max(0, n - 1); // QEMU/SeaBIOS convention
  }

  private setWord(reg: number, v: number): void {
    this.cmos[reg] = v & 0xff;
    this.cmos[reg + 1] = (v >> 8) & 0xff;
  }

  /** Standard checksum over 0x10-0x2d at 0x2e (high) / 0x2f (low). */
  private updateChecksum(): void {
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += this.cmos[i]!;
    this.cmos[0x2e] = (sum >> 8) & 0xff;
    this.cmos[0x2f] = sum & 0xff;
  }

  // ---- time -----------------------------------------------------------------

  private get setMode(): boolean {
    return (this.cmos[REG_B]! & B_SET) !== 0;
  }

  private get binary(): boolean {
    return (this.cmos[REG_B]! & B_DM_BINARY) !== 0;
  }

  /** Guest Unix time (whole seconds) now. */
  currentSeconds(now = this.clock.now()): number {
    return this.baseSeconds + Math.floor((now - this.baseNs) / SEC);
  }

  private encode(v: number): number {
    return this.binary ? v : toBcd(v);
  }

  private decode(v: number): number {
    return this.binary ? v : fromBcd(v);
  }

  private encodeHour(h: number): number {
    if (this.cmos[REG_B]! & B_24H) return this.encode(h);
    const pm = h >= 12;
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.encode(h12) | (pm ? 0x80 : 0);
  }

  private decodeHour(v: number): number {
    if (this.cmos[REG_B]! & B_24H) return this.decode(v);
    const h12 = this.decode(v & 0x7f) % 12;
    return v & 0x80 ? h12 + 12 : h12;
  }

  /** Write the current time into registers 0, 2, 4, 6-9 and the century byte. */
  private latchTime(now: number): void {
    const c = civilFromSeconds(this.currentSeconds(now));
    this.cmos[0] = this.encode(c.second);
    this.cmos[2] = this.encode(c.minute);
    this.cmos[4] = this.encodeHour(c.hour);
    this.cmos[6] = this.encode(c.weekday);
    this.cmos[7] = this.encode(c.day);
    this.cmos[8] = this.encode(c.month);
    this.cmos[9] = this.encode(c.year % 100);
    this.cmos[CMOS_CENTURY] = this.encode(Math.floor(c.year / 100));
  }

  private storeCentury(): void {
    this.latchTime(this.clock.now());
  }

  /** Time from registers 0-9 and the century byte (after a guest wrote them). */
  private registersToSeconds(): number {
    const c: Omit<CivilTime, 'weekday'> = {
      second: this.decode(this.cmos[0]!),
      minute: this.decode(this.cmos[2]!),
      hour: this.decodeHour(this.cmos[4]!),
      day: this.decode(this.cmos[7]!),
      month: this.decode(this.cmos[8]!),
      year: this.decode(this.cmos[CMOS_CENTURY]!) * 100 + this.decode(this.cmos[9]!),
    };
    return secondsFromCivil(c);
  }

  // ---- registers --------------------------------------------------------------

  private readData(sideEffects: boolean): number {
    const now = this.clock.now();
    const i = this.index;
    if (i <= 9 || i === CMOS_CENTURY) {
      // While SET=1 the registers hold what the guest wrote; otherwise live time.
      if (!this.setMode) this.latchTime(now);
      return this.cmos[i]!;
    }
    switch (i) {
      case REG_A: {
        const phase = (((now - this.baseNs) % SEC) + SEC) % SEC;
        const running = !this.setMode && (this.cmos[REG_A]! & 0x70) === 0x20;
        return this.cmos[REG_A]! | (running && phase >= SEC - UIP_LEAD_NS ? 0x80 : 0);
      }
      case REG_C: {
        this.advanceFlags(now);
        const v = this.cmos[REG_C]!;
        if (sideEffects) {
          // Reading C clears every flag and releases IRQ8 (datasheet, Register C).
          this.cmos[REG_C] = 0;
          this.updateIrq();
        }
        return v;
      }
      default:
        return this.cmos[i]!;
    }
  }

  private writeData(v: number): void {
    const now = this.clock.now();
    const i = this.index;
    this.advanceFlags(now);
    if (i <= 9 || i === CMOS_CENTURY) {
      const alarm = i === 1 || i === 3 || i === 5;
      if (alarm) {
        this.cmos[i] = v;
      } else {
        if (!this.setMode) this.latchTime(now);
        this.cmos[i] = v;
        if (!this.setMode) {
          // Running clock: the new time takes effect now, keeping the second phase.
          const phase = (((now - this.baseNs) % SEC) + SEC) % SEC;
          this.baseSeconds = this.registersToSeconds();
          this.baseNs = now - phase;
        }
      }
    } else if (i === REG_A) {
      this.cmos[REG_A] = v & 0x7f;
    } else if (i === REG_B) {
      const wasSet = this.setMode;
      if (v & B_SET && !wasSet) this.latchTime(now); // freeze the visible time
      // Setting SET clears UIE (datasheet, Register B bit 7).
      this.cmos[REG_B] = v & B_SET ? v & ~B_UIE : v;
      if (wasSet && !(v & B_SET)) {
        // Leaving SET: time restarts from the registers; first update one second on.
        this.baseSeconds = this.registersToSeconds();
        this.baseNs = now;
        this.flagsCheckedNs = now;
      }
    } else if (i === REG_C || i === REG_D) {
      // read-only
    } else {
      this.cmos[i] = v;
    }
    this.updateIrq();
  }

  /** Periodic interrupt period from RS3-0 (datasheet Table 3, 32.768 kHz), or 0. */
  periodNs(): number {
    const rs = this.cmos[REG_A]! & 0x0f;
    if (rs === 0) return 0;
    const hz = rs <= 2 ? 65536 >> (rs + 7) : 65536 >> rs;
    return SEC / hz;
  }

  private alarmMatches(t: number): boolean {
    const c = civilFromSeconds(t);
    // Alarm bytes 0xC0-0xFF are "don't care" (datasheet, "Alarm").
    const match = (alarm: number, v: number): boolean => (alarm & 0xc0) === 0xc0 || alarm === v;
    return (
      match(this.cmos[1]!, this.encode(c.second)) &&
      match(this.cmos[3]!, this.encode(c.minute)) &&
      match(this.cmos[5]!, this.encodeHour(c.hour))
    );
  }

  /** Set PF/UF/AF for every event between the last check and `now`. */
  private advanceFlags(now: number): void {
    const from = this.flagsCheckedNs;
    if (now <= from) return;
    this.flagsCheckedNs = now;
    let flags = 0;
    const period = this.periodNs();
    if (period && Math.floor((now - this.baseNs) / period) > Math.floor((from - this.baseNs) / period)) flags |= C_PF;
    if (!this.setMode) {
      const s0 = Math.floor((from - this.baseNs) / SEC);
      const s1 = Math.floor((now - this.baseNs) / SEC);
      if (s1 > s0) {
        flags |= C_UF;
        // Check each update in (from, now]; two days covers every h:m:s combination.
        const first = Math.max(s0 + 1, s1 - 2 * 86400);
        for (let s = first; s <= s1; s++) {
          if (this.alarmMatches(this.baseSeconds + s)) {
            flags |= C_AF;
            break;
          }
        }
      }
    }
    this.cmos[REG_C] = this.cmos[REG_C]! | flags;
  }

  updateIrq(): void {
    const b = this.cmos[REG_B]!;
    const c = this.cmos[REG_C]!;
    const irqf = (c & C_PF && b & B_PIE) || (c & C_AF && b & B_AIE) || (c & C_UF && b & B_UIE);
    this.cmos[REG_C] = irqf ? c | C_IRQF : c & ~C_IRQF;
    this.irq8.set(!!irqf);
    this.armTimer();
  }

  private armTimer(): void {
    const b = this.cmos[REG_B]!;
    const now = this.clock.now();
    let next = -1;
    const period = this.periodNs();
    if (b & B_PIE && period) {
      next = this.baseNs + (Math.floor((now - this.baseNs) / period) + 1) * period;
    }
    if (b & (B_AIE | B_UIE) && !this.setMode) {
      const sec = this.baseNs + (Math.floor((now - this.baseNs) / SEC) + 1) * SEC;
      if (next < 0 || sec < next) next = sec;
    }
    if (next < 0) this.timer.del();
    else if (this.timer.expireNs !== Math.ceil(next)) this.timer.mod(Math.ceil(next));
  }

  private onTimer(): void {
    this.advanceFlags(this.clock.now());
    this.updateIrq();
  }

  saveState(): RtcState {
    return {
      device: 'mc146818', version: 1, cmos: [...this.cmos], index: this.index, nmiMasked: this.nmiMasked,
      baseSeconds: this.baseSeconds, baseNs: this.baseNs, flagsCheckedNs: this.flagsCheckedNs,
    };
  }

  loadState(s: RtcState): void {
    checkState(s, 'mc146818', 1);
    this.cmos.set(s.cmos);
    this.index = s.index;
    this.nmiMasked = s.nmiMasked;
    this.baseSeconds = s.baseSeconds;
    this.baseNs = s.baseNs;
    this.flagsCheckedNs = s.flagsCheckedNs;
    this.updateIrq();
  }
}
