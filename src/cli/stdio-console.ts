// The terminal as the guest's console: output to stdout, input from stdin in raw
// mode (always restored), and kvmtool-style escapes: Ctrl-A x quits, Ctrl-A s writes
// a snapshot (--snapshot-out), Ctrl-A h lists the escapes, Ctrl-A Ctrl-A sends a literal Ctrl-A.
import type { AioContext } from '../aio/aio-context';
import type { Timer } from '../aio/timer';
import type { CharBackend } from '../devices/chardev';
import { writeSync } from 'node:fs';

const CTRL_A = 0x01;

export const ESCAPE_HELP = '\r\n  Ctrl-A x    quit\r\n  Ctrl-A s    write a snapshot (--snapshot-out FILE)\r\n  Ctrl-A h    this help\r\n  Ctrl-A C-a  send Ctrl-A to the guest\r\n';

export interface StdioConsoleOptions {
  interactive: boolean;
  onQuit: () => void;
  onHelp: (text: string) => void;
  /** Ctrl-A s. */
  onSnapshot?: () => void;
  /** Stdout was closed by its reader (EPIPE: `ts86 run ... | head`); output is dropped from then on. */
  onClosed?: () => void;
}

/** Filters the Ctrl-A escapes out of terminal input. Exported for tests. */
export class EscapeFilter {
  private pending = false;
  constructor(private readonly onQuit: () => void, private readonly onHelp: (t: string) => void, private readonly onSnapshot: () => void = () => {}) {}
  filter(data: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const b of data) {
      if (this.pending) {
        this.pending = false;
        if (b === 0x78 || b === 0x58) this.onQuit(); // x
        else if (b === 0x68 || b === 0x48 || b === 0x3f) this.onHelp(ESCAPE_HELP); // h, ?
        else if (b === 0x73 || b === 0x53) this.onSnapshot(); // s
        else if (b === CTRL_A) out.push(CTRL_A);
        continue;
      }
      if (b === CTRL_A) { this.pending = true; continue; }
      out.push(b);
    }
    return Uint8Array.from(out);
  }
}

export class StdioConsole implements CharBackend {
  private rx: ((data: Uint8Array) => void) | null = null;
  private readonly escapes: EscapeFilter;
  private rawSet = false;
  private readonly onData = (b: Buffer): void => {
    const d = this.opts.interactive ? this.escapes.filter(new Uint8Array(b)) : new Uint8Array(b);
    if (d.length) this.rx?.(d);
  };
  private housekeeping: Timer | null = null;
  private readonly restore = (): void => this.detach();

  constructor(private readonly opts: StdioConsoleOptions) {
    this.escapes = new EscapeFilter(opts.onQuit, opts.onHelp, () => opts.onSnapshot?.());
  }

  /** Stdout's reader went away (see onClosed). */
  private closed = false;

  write(data: Uint8Array): void {
    let off = 0;
    while (off < data.length && !this.closed) {
      try {
        off += writeSync(1, data, off, data.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        // Node ignores SIGPIPE, so a closed pipe is an error here: end the run as a
        // program killed by SIGPIPE would, without a stack trace.
        if (code === 'EPIPE') { this.closed = true; this.opts.onClosed?.(); return; }
        throw e;
      }
    }
  }

  setReceiver(rx: ((data: Uint8Array) => void) | null): void { this.rx = rx; }

  /** Starts reading stdin (raw mode on a terminal) and keeps the event loop reachable. */
  attach(aio: AioContext): void {
    if (this.opts.interactive && process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      this.rawSet = true;
      process.once('exit', this.restore);
    }
    process.stdin.on('data', this.onData);
    process.stdin.resume();
    // A host-clock timer so a halted guest still returns to the host event loop
    // (stdin, signals) at least every 50 ms. It changes nothing guest-visible.
    this.housekeeping = aio.newTimer(() => this.housekeeping?.mod(aio.hostClock.now() + 50e6), 'console-housekeeping', aio.hostClock);
    this.housekeeping.mod(aio.hostClock.now() + 50e6);
  }

  detach(): void {
    process.stdin.off('data', this.onData);
    process.stdin.pause();
    if (this.rawSet) {
      try { process.stdin.setRawMode(false); } catch { /* terminal gone */ }
      this.rawSet = false;
    }
    this.housekeeping?.del();
    this.housekeeping = null;
  }
}
