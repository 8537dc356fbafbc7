// One counter of the Intel 8254 PIT (8254 datasheet, Intel 1993: "Mode Definitions",
// "Read Operations"). The counter is evaluated analytically from the time its count
// was loaded, so no timer runs unless someone needs the OUT edges (IRQ0).
//
// Simplifications, on purpose: the datasheet's extra load clock (OUT in mode 0
// goes high N+1 clocks after the write) is folded into the write, and a new count
// written while mode 2/3 is running takes effect immediately rather than at the end
// of the current period. Neither is visible to PC software we know of.

export const PIT_HZ = 1_193_182;
const NS_PER_S = 1e9;

export interface PitChannelState {
  mode: number;
  bcd: boolean;
  rw: number;
  count: number;
  loaded: boolean;
  gate: boolean;
  triggered: boolean;
  startNs: number;
  baseTicks: number;
  frozen: boolean;
  writeHigh: boolean;
  writeLatch: number;
  readHigh: boolean;
  latchedCount: number;
  latchedCountBytes: number;
  latchedStatus: number;
  nullCount: boolean;
}

function toBcd(v: number): number {
  return (v % 10) | (Math.floor(v / 10) % 10 << 4) | (Math.floor(v / 100) % 10 << 8) | (Math.floor(v / 1000) % 10 << 12);
}

function fromBcd(v: number): number {
  return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

export class PitChannel {
  mode = 0;
  bcd = false;
  /** Read/write mode: 1 = LSB, 2 = MSB, 3 = LSB then MSB. */
  rw = 3;
  /** Count register value as a number of clocks (65536 / 10000 for a written 0). */
  count = 0;
  /** A count has been written since the last control word. */
  loaded = false;
  gate: boolean;
  /** Modes 1 and 5: a gate trigger has started counting. */
  triggered = false;
  startNs = 0;
  baseTicks = 0;
  /** Counting suspended (gate low in modes 0, 2, 3, 4). */
  frozen = false;
  writeHigh = false;
  writeLatch = 0;
  readHigh = false;
  latchedCount = 0;
  /** Bytes of the latched count still to read (0 = not latched). */
  latchedCountBytes = 0;
  /** Latched status byte, or -1. */
  latchedStatus = -1;
  nullCount = true;

  constructor(private readonly defaultGate: boolean) {
    this.gate = defaultGate;
  }

  reset(): void {
    this.mode = 0;
    this.bcd = false;
    this.rw = 3;
    this.count = 0;
    this.loaded = false;
    this.gate = this.defaultGate;
    this.triggered = false;
    this.startNs = this.baseTicks = 0;
    this.frozen = false;
    this.writeHigh = this.readHigh = false;
    this.writeLatch = 0;
    this.latchedCount = this.latchedCountBytes = 0;
    this.latchedStatus = -1;
    this.nullCount = true;
  }

  private get modulus(): number {
    return this.bcd ? 10000 : 65536;
  }

  /** Clocks counted since the count was loaded (or the gate triggered). */
  ticks(now: number): number {
    if (this.frozen) return this.baseTicks;
    return this.baseTicks + Math.floor(((now - this.startNs) * PIT_HZ) / NS_PER_S);
  }

  private countingMode(): number {
    return this.mode > 5 ? this.mode - 4 : this.mode; // modes 6/7 are 2/3
  }

  /** OUT pin and counting element at `now`. */
  evaluate(now: number): { out: boolean; value: number } {
    const mode = this.countingMode();
    const N = this.count;
    if (!this.loaded) return { out: mode !== 0, value: 0 };
    const d = this.ticks(now);
    const wrap = (v: number): number => ((v % this.modulus) + this.modulus) % this.modulus;
    switch (mode) {
      case 0:
        return { out: d >= N, value: wrap(N - d) };
      case 1:
        if (!this.triggered) return { out: true, value: wrap(N) };
        return { out: d >= N, value: wrap(N - d) };
      case 4:
        return { out: d !== N, value: wrap(N - d) };
      case 5:
        if (!this.triggered) return { out: true, value: wrap(N) };
        return { out: d !== N, value: wrap(N - d) };
      case 2: {
        if (this.frozen && !this.gate) return { out: true, value: wrap(N - (d % N)) };
        const p = d % N;
        return { out: p !== N - 1, value: N - p };
      }
      default: {
        // Mode 3: high for ceil(N/2) clocks, low for floor(N/2); the counter steps
        // by two, and for odd N the first step of each half is by one (high half)
        // or three (low half) (datasheet, "Mode 3: Square Wave Mode").
        if (this.frozen && !this.gate) return { out: true, value: wrap(N) };
        const hi = Math.ceil(N / 2);
        const p = d % N;
        if (p < hi) {
          const q = p;
          return { out: true, value: N & 1 ? (q === 0 ? N : N + 1 - 2 * q) : N - 2 * q };
        }
        const q = p - hi;
        return { out: false, value: N & 1 ? (q === 0 ? N : N - 1 - 2 * q) : N - 2 * q };
      }
    }
  }

  /** Tick count at which OUT next changes, or -1 when it never will by itself. */
  private nextEdgeTick(now: number): number {
    const mode = this.countingMode();
    const N = this.count;
    if (!this.loaded || this.frozen) return -1;
    const d = this.ticks(now);
    switch (mode) {
      case 0:
        return d < N ? N : -1;
      case 1:
        return this.triggered && d < N ? N : -1;
      case 4:
      case 5:
        if (mode === 5 && !this.triggered) return -1;
        return d < N ? N : d === N ? N + 1 : -1;
      case 2: {
        if (N < 2) return -1;
        const p = d % N;
        return p < N - 1 ? d - p + N - 1 : d + 1;
      }
      default: {
        if (N < 2) return -1;
        const hi = Math.ceil(N / 2);
        const p = d % N;
        return p < hi ? d - p + hi : d - p + N;
      }
    }
  }

  /** Absolute time (ns) of the next OUT change, or -1. */
  nextEdgeNs(now: number): number {
    const k = this.nextEdgeTick(now);
    if (k < 0) return -1;
    let t = this.startNs + Math.ceil(((k - this.baseTicks) * NS_PER_S) / PIT_HZ);
    // Guard against rounding: the deadline must really be at or past tick k.
    while (this.ticks(t) < k) t++;
    return Math.max(t, now + 1);
  }

  private restart(now: number): void {
    this.startNs = now;
    this.baseTicks = 0;
    this.frozen = this.suspendsOnGate() && !this.gate;
  }

  private suspendsOnGate(): boolean {
    const m = this.countingMode();
    return m === 0 || m === 2 || m === 3 || m === 4;
  }

  /** Control word for this channel (RW != 0): new mode, counting stops. */
  setMode(rw: number, mode: number, bcd: boolean): void {
    this.rw = rw;
    this.mode = mode;
    this.bcd = bcd;
    this.loaded = false;
    this.triggered = false;
    this.writeHigh = this.readHigh = false;
    this.latchedCountBytes = 0;
    this.nullCount = true;
  }

  private load(value: number, now: number): void {
    const raw = this.bcd ? fromBcd(value) : value;
    this.count = raw === 0 ? this.modulus : raw;
    this.loaded = true;
    this.nullCount = false;
    const m = this.countingMode();
    if (m === 1 || m === 5) {
      // Hardware-triggered: wait for a gate rising edge (or keep the running one).
      return;
    }
    this.restart(now);
  }

  writeCount(byte: number, now: number): void {
    switch (this.rw) {
      case 1:
        this.load(byte, now);
        break;
      case 2:
        this.load(byte << 8, now);
        break;
      default:
        if (!this.writeHigh) {
          this.writeLatch = byte;
          this.writeHigh = true;
          // Mode 0: writing the first byte stops the count and drives OUT low.
          if (this.countingMode() === 0) this.loaded = false;
        } else {
          this.writeHigh = false;
          this.load(this.writeLatch | (byte << 8), now);
        }
    }
  }

  latchCount(now: number): void {
    if (this.latchedCountBytes) return; // a second latch before reading is ignored
    const v = this.evaluate(now).value;
    this.latchedCount = this.bcd ? toBcd(v) : v & 0xffff;
    this.latchedCountBytes = this.rw === 3 ? 2 : 1;
    this.readHigh = this.rw === 2;
  }

  latchStatus(now: number): void {
    if (this.latchedStatus >= 0) return;
    this.latchedStatus =
      (this.evaluate(now).out ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.rw << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  readByte(now: number, sideEffects = true): number {
    if (this.latchedStatus >= 0) {
      const s = this.latchedStatus;
      if (sideEffects) this.latchedStatus = -1;
      return s;
    }
    let v: number;
    let fromLatch = false;
    if (this.latchedCountBytes) {
      v = this.latchedCount;
      fromLatch = true;
    } else {
      const live = this.evaluate(now).value;
      v = this.bcd ? toBcd(live) : live & 0xffff;
    }
    let high: boolean;
    if (this.rw === 1) high = false;
    else if (this.rw === 2) high = true;
    else high = this.readHigh;
    const byte = high ? (v >> 8) & 0xff : v & 0xff;
    if (sideEffects) {
      if (this.rw === 3) this.readHigh = !this.readHigh;
      if (fromLatch && --this.latchedCountBytes === 0) this.readHigh = false;
    }
    return byte;
  }

  setGate(level: boolean, now: number): void {
    if (level === this.gate) return;
    const m = this.countingMode();
    if (this.suspendsOnGate()) {
      if (!level) {
        this.baseTicks = this.ticks(now);
        this.frozen = true;
      } else if (m === 2 || m === 3) {
        // Rising edge reloads the counter (datasheet: modes 2 and 3, GATE).
        this.gate = level;
        if (this.loaded) this.restart(now);
        return;
      } else {
        this.startNs = now;
        this.frozen = false;
      }
    } else if (level) {
      // Modes 1 and 5: a rising edge (re)triggers counting from the count register.
      if (this.loaded) {
        this.triggered = true;
        this.restart(now);
      }
    }
    this.gate = level;
  }

  saveState(): PitChannelState {
    return {
      mode: this.mode, bcd: this.bcd, rw: this.rw, count: this.count, loaded: this.loaded, gate: this.gate,
      triggered: this.triggered, startNs: this.startNs, baseTicks: this.baseTicks, frozen: this.frozen,
      writeHigh: this.writeHigh, writeLatch: this.writeLatch, readHigh: this.readHigh,
      latchedCount: this.latchedCount, latchedCountBytes: this.latchedCountBytes,
      latchedStatus: this.latchedStatus, nullCount: this.nullCount,
    };
  }

  loadState(s: PitChannelState): void {
    Object.assign(this, s);
  }
}
