// Clocks for the AioContext. Every device reads time through a Clock, never the
// host directly, so a run on the virtual clock is deterministic (DESIGN.md, "aio").

/** A monotonic time source in nanoseconds (a JS number: exact up to ~104 days). */
export interface Clock {
  readonly kind: 'host' | 'virtual' | 'manual';
  now(): number;
}

/**
 * The host's monotonic clock. This file is the ONLY place in ts86 that reads host
 * time (performance.now(), Date.now()). Time `startNs` (default 0) is the moment the clock was constructed.
 */
export class HostClock implements Clock {
  readonly kind = 'host';
  private readonly origin = performance.now();

  /** `startNs`: the time now() reads at construction (a restored snapshot continues its clock). */
  constructor(private readonly startNs = 0) {}

  /** Nanoseconds since construction. performance.now() (a double, no allocation) rather than
   * process.hrtime.bigint(): the run loop reads this clock around every vCPU slice. */
  now(): number {
    return this.startNs + Math.round((performance.now() - this.origin) * 1e6);
  }

  /**
   * Host wall-clock time in whole Unix seconds, for seeding a guest RTC's epoch
   * (RtcOptions.epochSeconds) in non-deterministic runs. Deterministic runs pass
   * a fixed epoch instead and never call this.
   */
  static wallClockSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }
}

/**
 * Virtual time derived from executed instructions: `icount / ips` seconds, plus
 * whatever was skipped while every vCPU was halted (see `skipTo`). Identical input
 * therefore gives identical time, which makes runs reproducible bit for bit.
 */
export class VirtualClock implements Clock {
  readonly kind = 'virtual';
  private offsetNs = 0;
  private readonly nsPerInsn: number;

  constructor(
    private readonly icount: () => number,
    readonly instructionsPerSecond: number,
  ) {
    if (!(instructionsPerSecond > 0)) throw new Error('VirtualClock: instructionsPerSecond must be > 0');
    this.nsPerInsn = 1e9 / instructionsPerSecond;
  }

  now(): number {
    return Math.floor(this.offsetNs + this.icount() * this.nsPerInsn);
  }

  /** Jump forward to `deadlineNs` (used when every vCPU is halted). Never goes back. */
  skipTo(deadlineNs: number): void {
    const now = this.now();
    if (deadlineNs > now) this.offsetNs += deadlineNs - now;
  }

  /** Instructions a vCPU may run before reaching `deadlineNs` (at least 1). */
  instructionsUntil(deadlineNs: number): number {
    const delta = deadlineNs - this.now();
    return Math.max(1, Math.ceil(delta / this.nsPerInsn));
  }

  saveState(): { offsetNs: number } {
    return { offsetNs: this.offsetNs };
  }

  loadState(s: { offsetNs: number }): void {
    this.offsetNs = s.offsetNs;
  }
}

/** A clock that moves only when told to: for unit tests of devices. */
export class ManualClock implements Clock {
  readonly kind = 'manual';
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  set(ns: number): void {
    if (ns < this.t) throw new Error('ManualClock: time cannot go backwards');
    this.t = ns;
  }
  advance(ns: number): void {
    this.set(this.t + ns);
  }
}
