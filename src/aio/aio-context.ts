// AioContext: the emulator's event loop (DESIGN.md, "aio: the event loop").
//
// poll(blocking):
//   1. run scheduled bottom halves;
//   2. collect host fd events that are already there;
//   3. if nothing happened and `blocking`: busy-poll for up to `pollNs` (adaptive,
//      off by default) calling every handler's `poll` callback, then really block
//      (Atomics.wait, see fd-watcher.ts) until the earliest timer deadline or a fd
//      event. On a virtual clock there is nothing to wait for in host time: the
//      clock jumps to the earliest deadline instead (every vCPU is halted, which is
//      the only reason the run loop blocks);
//   4. dispatch fd events to read handlers, run due timers, run bottom halves they
//      scheduled; return whether any callback ran.

import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { BottomHalf } from './bottom-half';
import { type Clock, HostClock, VirtualClock } from './clock';
import { FdWatcher, type FdEvent } from './fd-watcher';
import { Timer, TimerList } from './timer';

export interface FdCallbacks {
  /** Bytes arrived on the fd (already read; see fd-watcher.ts for why). */
  read?: (data: Uint8Array) => void;
  /** End of file or error on the fd; the handler is removed afterwards. */
  eof?: (error: boolean) => void;
  /**
   * The fd can take output. Host output fds are treated as always writable, so a
   * write callback runs on every poll and keeps a blocking poll from sleeping:
   * register it only while output is pending, and remove it when drained.
   */
  write?: () => void;
  /**
   * Polling callback (e.g. a shared-memory queue): called on every poll and
   * repeatedly during the adaptive busy-poll window; return true when it made
   * progress. It cannot wake a real wait by itself.
   */
  poll?: () => boolean;
}

export class FdHandler {
  removed = false;
  constructor(
    readonly fd: number,
    public callbacks: FdCallbacks,
    readonly isFile: boolean,
  ) {}
}

export interface AioOptions {
  /** The machine clock timers use by default (virtual for deterministic runs). */
  clock?: Clock;
  /** Host clock used for poll timeouts and adaptive polling (created if absent). */
  hostClock?: HostClock | Clock;
  /** Upper bound of the adaptive busy-poll window; 0 (default) disables polling. */
  pollMaxNs?: number;
  /** Multiply the window by this when a wait was short (default 2). */
  pollGrow?: number;
  /** Divide the window by this when a wait exceeded pollMaxNs (default 2; 0 = reset to 0). */
  pollShrink?: number;
  /** Initial window when growing from 0 (default 4 µs). */
  pollStartNs?: number;
}

const FILE_READ_CHUNK = 4096;

export class AioContext {
  readonly clock: Clock;
  readonly hostClock: Clock;
  private readonly lists = new Map<Clock, TimerList>();
  private bhQueue: BottomHalf[] = [];
  private readonly bhOwner = { enqueue: (bh: BottomHalf): void => void this.bhQueue.push(bh) };
  private handlers: FdHandler[] = [];
  private watcher: FdWatcher | null = null;

  pollMaxNs: number;
  pollGrow: number;
  pollShrink: number;
  pollStartNs: number;
  /** Current busy-poll window in ns (adapts between 0 and pollMaxNs). */
  pollNs = 0;

  /**
   * Called when a timer armed while a vCPU runs makes the earliest deadline
   * earlier than the one its run slice was computed from: the run loop kicks the
   * vCPU out (e.g. Cpu.requestStop) so the timer fires on time.
   */
  onEarlierDeadline: ((clock: Clock) => void) | undefined;

  /** Counters for --stats and tests. */
  readonly stats = { polls: 0, blockedWaits: 0, busyPollHits: 0, timersRun: 0, bhsRun: 0, virtualSkips: 0 };

  constructor(opts: AioOptions = {}) {
    this.hostClock = opts.hostClock ?? new HostClock();
    this.clock = opts.clock ?? this.hostClock;
    this.pollMaxNs = opts.pollMaxNs ?? 0;
    this.pollGrow = opts.pollGrow ?? 2;
    this.pollShrink = opts.pollShrink ?? 2;
    this.pollStartNs = opts.pollStartNs ?? 4000;
  }

  // ---- timers ------------------------------------------------------------

  private listFor(clock: Clock): TimerList {
    let l = this.lists.get(clock);
    if (!l) {
      l = new TimerList(clock, () => this.onEarlierDeadline?.(clock));
      this.lists.set(clock, l);
    }
    return l;
  }

  newTimer(cb: () => void, name = 'timer', clock: Clock = this.clock): Timer {
    return new Timer(this.listFor(clock), clock, cb, name);
  }

  /** Earliest deadline on `clock` (default the machine clock), or -1. */
  nextDeadline(clock: Clock = this.clock): number {
    return this.lists.get(clock)?.nextDeadline() ?? -1;
  }

  /** Time in ns until the earliest timer on any clock; 0 if one is due, -1 if none. */
  timeoutNs(): number {
    let best = -1;
    for (const [clock, list] of this.lists) {
      const d = list.nextDeadline();
      if (d < 0) continue;
      const wait = Math.max(0, d - clock.now());
      if (best < 0 || wait < best) best = wait;
    }
    return best;
  }

  // ---- bottom halves -----------------------------------------------------

  newBottomHalf(cb: () => void, name = 'bh'): BottomHalf {
    return new BottomHalf(this.bhOwner, cb, name);
  }

  private runBottomHalves(): boolean {
    let ran = false;
    // Bottom halves scheduled by a bottom half run in the same poll, but a bottom
    // half rescheduling itself runs once per round (no livelock).
    for (let round = 0; round < 64 && this.bhQueue.length; round++) {
      const q = this.bhQueue;
      this.bhQueue = [];
      for (const bh of q) {
        if (!bh.scheduled || bh.deleted) continue;
        bh.scheduled = false;
        ran = true;
        this.stats.bhsRun++;
        bh.cb();
      }
    }
    return ran;
  }

  // ---- fd handlers -------------------------------------------------------

  /**
   * Watch a host fd. Regular files are always readable; pipes, sockets and ttys
   * are watched from a worker thread (fd-watcher.ts). Returns the handler, which
   * `removeFdHandler` accepts; safe to call from inside any callback.
   */
  addFdHandler(fd: number, callbacks: FdCallbacks): FdHandler {
    const st = fs.fstatSync(fd);
    const h = new FdHandler(fd, callbacks, st.isFile());
    this.handlers = [...this.handlers, h];
    if (callbacks.read && !h.isFile) {
      this.watcher ??= new FdWatcher();
      this.watcher.watch(fd, tty.isatty(fd) ? 'tty' : 'stream');
    }
    return h;
  }

  removeFdHandler(h: FdHandler): void {
    if (h.removed) return;
    h.removed = true;
    // Copy-on-write: a dispatch loop iterating the old array is unaffected.
    this.handlers = this.handlers.filter((x) => x !== h);
    if (h.callbacks.read && !h.isFile) this.watcher?.unwatch(h.fd);
  }

  private fileReadable(): boolean {
    return this.handlers.some((h) => h.isFile && h.callbacks.read);
  }

  private dispatchFds(events: FdEvent[]): boolean {
    let progress = false;
    for (const h of this.handlers) {
      if (h.removed) continue;
      if (h.isFile && h.callbacks.read) {
        const buf = new Uint8Array(FILE_READ_CHUNK);
        const n = fs.readSync(h.fd, buf, 0, buf.length, null);
        progress = true;
        if (n > 0) h.callbacks.read(buf.subarray(0, n));
        else this.endOfFd(h, false);
      }
      if (!h.removed && h.callbacks.write) {
        progress = true;
        h.callbacks.write();
      }
    }
    for (const ev of events) {
      const h = this.handlers.find((x) => x.fd === ev.fd && !x.removed && x.callbacks.read);
      if (!h) continue;
      progress = true;
      if (ev.data) h.callbacks.read!(ev.data);
      else this.endOfFd(h, ev.error === true);
    }
    return progress;
  }

  private endOfFd(h: FdHandler, error: boolean): void {
    const eof = h.callbacks.eof;
    this.removeFdHandler(h);
    eof?.(error);
  }

  private runPollCallbacks(): boolean {
    let progress = false;
    for (const h of this.handlers) {
      if (!h.removed && h.callbacks.poll && h.callbacks.poll()) progress = true;
    }
    return progress;
  }

  // ---- the loop ----------------------------------------------------------

  private runTimers(): boolean {
    let ran = 0;
    for (const list of [...this.lists.values()]) ran += list.runDue();
    this.stats.timersRun += ran;
    return ran > 0;
  }

  private hasImmediateWork(): boolean {
    return (
      this.bhQueue.some((b) => b.scheduled) ||
      this.timeoutNs() === 0 ||
      this.fileReadable() ||
      this.handlers.some((h) => h.callbacks.write) ||
      (this.watcher?.hasEvents() ?? false)
    );
  }

  /**
   * Run whatever is ready; with `blocking`, first wait for something to become
   * ready (see the file comment). Returns true when any callback ran.
   */
  poll(blocking: boolean): boolean {
    this.stats.polls++;
    let progress = this.runBottomHalves();
    if (this.runPollCallbacks()) progress = true;

    if (blocking && !progress && !this.hasImmediateWork()) {
      progress = this.waitForWork();
    }

    const events = this.watcher?.hasEvents() ? this.watcher.drain() : [];
    if (this.dispatchFds(events)) progress = true;
    if (this.runTimers()) progress = true;
    if (this.runBottomHalves()) progress = true;
    return progress;
  }

  /** Busy-poll then block. Returns true if a poll callback made progress. */
  private waitForWork(): boolean {
    const host = this.hostClock;
    // Virtual time only moves when instructions run, so with every vCPU halted the
    // next virtual deadline is reached by jumping to it (idle skipping).
    const vclock = this.clock instanceof VirtualClock ? this.clock : null;
    // Only watched fds can wake a real wait; poll callbacks progress by polling alone.
    const hasHostSources = this.handlers.some((h) => h.callbacks.read && !h.isFile);
    if (vclock && !hasHostSources) {
      const d = this.nextDeadline(vclock);
      if (d >= 0) {
        vclock.skipTo(d);
        this.stats.virtualSkips++;
        return false;
      }
    }

    const start = host.now();
    if (this.pollNs > 0) {
      const until = start + this.pollNs;
      do {
        if (this.runPollCallbacks() || (this.watcher?.hasEvents() ?? false) || this.timeoutNs() === 0) {
          this.stats.busyPollHits++;
          return true;
        }
      } while (host.now() < until);
    }

    // Timeout: the earliest host-clock timer; virtual timers when host sources
    // exist are bounded by the same amount of host time (a fair approximation,
    // and the deterministic mode has no host sources).
    const timeout = this.timeoutNs();
    this.stats.blockedWaits++;
    if (this.watcher) {
      this.watcher.wait(timeout < 0 ? Infinity : Math.ceil(timeout / 1e6));
    } else if (timeout > 0) {
      sleepNs(timeout);
    } else if (timeout < 0 && !vclock) {
      throw new Error('AioContext.poll(true): nothing can ever wake this wait (no timers, no fds)');
    }
    if (vclock && timeout > 0 && !(this.watcher?.hasEvents() ?? false)) {
      vclock.skipTo(this.nextDeadline(vclock));
      this.stats.virtualSkips++;
    }
    this.adaptPollWindow(host.now() - start);
    return false;
  }

  /**
   * Adaptive polling in the manner of QEMU's aio-posix: a wait that ended within
   * pollMaxNs means polling a little longer would have caught the event without a
   * syscall, so the window grows; a wait longer than pollMaxNs means polling was
   * wasted CPU, so it shrinks.
   */
  adaptPollWindow(blockNs: number): void {
    if (this.pollMaxNs <= 0) {
      this.pollNs = 0;
      return;
    }
    if (blockNs <= this.pollNs) return; // polled long enough: keep the window
    if (blockNs > this.pollMaxNs) {
      this.pollNs = this.pollShrink > 0 ? Math.floor(this.pollNs / this.pollShrink) : 0;
      if (this.pollNs < this.pollStartNs) this.pollNs = 0;
    } else {
      const grown = this.pollNs === 0 ? this.pollStartNs : this.pollNs * this.pollGrow;
      this.pollNs = Math.min(grown, this.pollMaxNs);
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    this.handlers = [];
  }
}

/** Sleep the thread without spinning (no fds to watch). */
function sleepNs(ns: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(cell, 0, 0, Math.max(1, Math.ceil(ns / 1e6)));
}
