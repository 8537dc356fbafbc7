// The guest's serial console (COM1) as the host side sees it: everything the guest
// wrote (the transcript), input to the guest, and pattern watches that stop the
// machine at the instruction boundary right after the output that matched. It sits
// between the UART and the user's backend (stdio, a buffer), so the same watches
// serve the test API (`waitFor`), serial scripts and snapshot triggers.
import type { CharBackend } from '../devices/chardev';

export type SerialPattern = string | RegExp;

export interface SerialMatch {
  /** The matched text. */
  text: string;
  /** Transcript offsets [start, end) of the match. */
  start: number;
  end: number;
}

export interface WaitForOptions {
  /** Host milliseconds before giving up (default 60 000). */
  timeout?: number;
  /** Transcript offset to search from (default: the end of the previous waitFor match). */
  from?: number;
}

interface Watch {
  pattern: SerialPattern;
  from: number;
  onMatch: (m: SerialMatch) => void;
}

/** What the console needs from its machine to run it until a pattern shows up. */
export interface SerialDriver {
  /** Runs the machine until `done()` or the guest stops; rejects on the host timeout. */
  runUntil(done: () => boolean, hostTimeoutMs: number, what: string): Promise<void>;
  /** Makes the run loop return at the next instruction boundary. */
  requestBreak(): void;
}

export class SerialConsole implements CharBackend {
  private chunks: string[] = [];
  private joined = '';
  /** Transcript length in bytes (Latin-1: one char per byte). */
  private length = 0;
  private rx: ((data: Uint8Array) => void) | null = null;
  private watches: Watch[] = [];
  /** Where the next waitFor starts by default. */
  cursor = 0;
  driver: SerialDriver | null = null;
  /**
   * Host input from the backend (stdin) goes through this when set: a deterministic
   * machine queues it and applies it at a virtual timestamp instead of whenever the
   * host delivered it.
   */
  hostInputFilter: ((data: Uint8Array, deliver: (d: Uint8Array) => void) => void) | null = null;

  constructor(private readonly sink: CharBackend) {
    sink.setReceiver((d) => this.fromHost(d));
  }

  // ---- CharBackend (the UART side) ----------------------------------------

  write(data: Uint8Array): void {
    this.sink.write(data);
    let s = '';
    for (let k = 0; k < data.length; k++) s += String.fromCharCode(data[k]!);
    this.chunks.push(s);
    this.length += data.length;
    if (this.watches.length) this.checkWatches(data.length);
  }

  setReceiver(rx: ((data: Uint8Array) => void) | null): void { this.rx = rx; }

  // ---- host side -------------------------------------------------------------

  /** Everything the guest has written so far (Latin-1). */
  get text(): string {
    if (this.chunks.length) { this.joined += this.chunks.join(''); this.chunks = []; }
    return this.joined;
  }
  get bytesWritten(): number { return this.length; }

  /** Sends bytes to the guest now (a string is sent as Latin-1). */
  send(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff) : data;
    this.rx?.(bytes);
  }

  private fromHost(d: Uint8Array): void {
    if (this.hostInputFilter) this.hostInputFilter(d, (x) => this.rx?.(x));
    else this.rx?.(d);
  }

  /** First match of `pattern` in the transcript at or after `from`, or null. */
  find(pattern: SerialPattern, from = 0): SerialMatch | null {
    const text = this.text;
    if (typeof pattern === 'string') {
      const i = text.indexOf(pattern, from);
      return i < 0 ? null : { text: pattern, start: i, end: i + pattern.length };
    }
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    const m = re.exec(text.slice(from));
    return m ? { text: m[0], start: from + m.index, end: from + m.index + m[0].length } : null;
  }

  /**
   * Calls `onMatch` once, as soon as the transcript from `from` contains `pattern`
   * (at once if it already does). The callback runs inside the write, i.e. possibly
   * in the middle of an instruction: defer real work to an instruction boundary.
   */
  watch(pattern: SerialPattern, from: number, onMatch: (m: SerialMatch) => void): () => void {
    const w: Watch = { pattern, from, onMatch };
    const m = this.find(pattern, from);
    if (m) { onMatch(m); return () => {}; }
    this.watches.push(w);
    return () => { this.watches = this.watches.filter((x) => x !== w); };
  }

  private checkWatches(added: number): void {
    for (const w of [...this.watches]) {
      // A string can only newly match in the tail: search from just before the new output.
      const from = typeof w.pattern === 'string' ? Math.max(w.from, this.length - added - w.pattern.length) : w.from;
      const m = this.find(w.pattern, from);
      if (m) {
        this.watches = this.watches.filter((x) => x !== w);
        w.onMatch(m);
      }
    }
  }

  /**
   * Runs the machine until the transcript (from the previous match, or `from`)
   * matches `pattern`; the machine stops at the instruction boundary after the
   * output that completed the match, so a deterministic run stops at the same
   * instruction every time. Rejects when the guest stops first or on the timeout.
   */
  async waitFor(pattern: SerialPattern, opts: WaitForOptions = {}): Promise<SerialMatch> {
    const driver = this.driver;
    if (!driver) throw new Error('SerialConsole.waitFor: this console is not attached to a machine');
    let found: SerialMatch | null = null;
    const cancel = this.watch(pattern, opts.from ?? this.cursor, (m) => { found = m; driver.requestBreak(); });
    try {
      await driver.runUntil(() => found !== null, opts.timeout ?? 60_000, `serial output matching ${String(pattern)}`);
    } finally {
      cancel();
    }
    const m = found as SerialMatch | null;
    if (!m) throw new Error(`waitFor ${String(pattern)}: not found`);
    this.cursor = m.end;
    return m;
  }
}
