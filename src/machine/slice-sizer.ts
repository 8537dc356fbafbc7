// How many instructions a host-clock run slice may execute before the next device deadline.
//
// On the host clock, guest time is host time, so a slice that should end at a timer deadline
// is sized from the measured speed: instructions = nanoseconds left × instructions per second.
// Two traps made slices tiny (measured on the Debian boot: 1.5 M slices of ~4,000
// instructions, 22,000 per second, each a trip out of compiled code and through the event
// poll):
//  - the estimate was updated only from slices of 10,000 instructions or more, so once it
//    dropped (cold, interpreted code) the slices it sized stayed too small to correct it;
//  - approaching a deadline with an underestimate takes many ever-smaller slices.
// Here every slice counts, pooled into windows of at least WINDOW_NS of host time, and a
// slice is never shorter than MIN_SLICE_NS worth of instructions: a timer then fires at most
// that late, far below the host's own timer jitter and invisible to the guest, whose only
// view of time is the same host clock.

/** Host time pooled before the estimate moves (ns). */
export const WINDOW_NS = 1_000_000;
/** The shortest slice, as host time at the estimated speed (ns). */
export const MIN_SLICE_NS = 20_000;

export class SliceSizer {
  private winInsns = 0;
  private winNs = 0;

  /** Measured guest instructions per host second. */
  constructor(public ips = 20e6) {}

  /** Records a finished slice: `insns` instructions in `ns` nanoseconds of host time. */
  record(insns: number, ns: number): void {
    if (!(insns > 0) || !(ns >= 0)) return;
    this.winInsns += insns;
    this.winNs += ns;
    if (this.winNs < WINDOW_NS) return;
    const ips = (this.winInsns * 1e9) / this.winNs;
    this.ips = 0.5 * this.ips + 0.5 * ips;
    this.winInsns = 0;
    this.winNs = 0;
  }

  /** The slice (instructions, ≥ 1) that ends about `ns` nanoseconds from now. */
  sliceFor(ns: number): number {
    const min = Math.max(1, Math.floor((MIN_SLICE_NS * this.ips) / 1e9));
    return Math.max(min, Math.floor((ns * this.ips) / 1e9));
  }
}
