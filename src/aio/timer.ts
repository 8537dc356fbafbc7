import type { Clock } from './clock';

/**
 * A one-shot timer on a clock. `mod(deadline)` arms (or re-arms) it, `del()` disarms
 * it. Periodic behaviour is the callback re-arming itself, as in hardware models
 * where the next deadline depends on register state.
 */
export class Timer {
  /** Absolute deadline in ns on `clock`, or -1 while disarmed. */
  expireNs = -1;
  /** Insertion sequence: equal deadlines fire in the order they were armed. */
  seq = 0;

  constructor(
    readonly list: TimerList,
    readonly clock: Clock,
    readonly cb: () => void,
    readonly name = 'timer',
  ) {}

  get pending(): boolean {
    return this.expireNs >= 0;
  }

  /** Arm at an absolute deadline (ns on this timer's clock). */
  mod(deadlineNs: number): void {
    this.list.arm(this, Math.max(0, Math.floor(deadlineNs)));
  }

  /** Arm `delayNs` from now. */
  modIn(delayNs: number): void {
    this.mod(this.clock.now() + delayNs);
  }

  del(): void {
    this.list.disarm(this);
  }
}

/** Armed timers of one clock, kept sorted by (deadline, sequence). */
export class TimerList {
  private armed: Timer[] = [];
  private nextSeq = 0;

  constructor(
    readonly clock: Clock,
    /** Called when arming makes the earliest deadline earlier (kick the vCPU). */
    private readonly onEarlier: () => void = () => {},
  ) {}

  arm(t: Timer, deadlineNs: number): void {
    const before = this.armed.length ? this.armed[0]!.expireNs : -1;
    if (t.pending) this.remove(t);
    t.expireNs = deadlineNs;
    t.seq = this.nextSeq++;
    // Binary search for the insertion point after all timers with deadline <= ours.
    let lo = 0;
    let hi = this.armed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.armed[mid]!.expireNs <= deadlineNs) lo = mid + 1;
      else hi = mid;
    }
    this.armed.splice(lo, 0, t);
    if (lo === 0 && (before < 0 || deadlineNs < before)) this.onEarlier();
  }

  disarm(t: Timer): void {
    if (t.pending) this.remove(t);
    t.expireNs = -1;
  }

  private remove(t: Timer): void {
    const i = this.armed.indexOf(t);
    if (i >= 0) this.armed.splice(i, 1);
  }

  /** Earliest deadline, or -1 when no timer is armed. */
  nextDeadline(): number {
    return this.armed.length ? this.armed[0]!.expireNs : -1;
  }

  /**
   * Run every timer whose deadline is <= now. A callback may arm, re-arm or delete
   * any timer; one that re-arms itself into the past runs again only on the next
   * call, so a buggy periodic timer cannot hang the loop. Returns how many ran.
   */
  runDue(): number {
    const now = this.clock.now();
    const due: Timer[] = [];
    while (this.armed.length && this.armed[0]!.expireNs <= now) {
      const t = this.armed.shift()!;
      due.push(t);
    }
    let ran = 0;
    for (const t of due) {
      // A previous callback in this batch may have deleted or re-armed it.
      if (t.expireNs < 0 || t.expireNs > now || this.armed.includes(t)) continue;
      t.expireNs = -1;
      ran++;
      t.cb();
    }
    return ran;
  }
}
