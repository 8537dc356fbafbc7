// A GDB Remote Serial Protocol server (gdb manual, appendix E) over TCP, driving the
// Debugger. `ts86 run --gdb tcp::1234` (or `-s`) starts it; `-S` keeps the guest
// stopped until gdb attaches and resumes it.
//
// One connection at a time, all-stop mode, one thread. Breakpoints (Z0 and Z1) are
// debugger breakpoints, never patched INT3 bytes, so guest memory reads always show
// the real code and a breakpoint survives the guest rewriting its code. Watchpoints
// (Z2 write, Z3 read, Z4 access) are debugger watchpoints on linear addresses: they
// report after the accessing instruction, as x86 data breakpoints do.
//
// While the guest runs, it runs in host-time slices (Debugger.cont with a host budget)
// with setImmediate between them, so the socket is served: a Ctrl-C (0x03) from gdb
// calls requestStop and the next slice ends with a `T02` stop reply. Without gdb
// attached (before the first connection, or after `D`) the guest runs the same way, and
// a new connection stops it at the next slice boundary, as QEMU's stub does.
import { createServer, type Server, type Socket } from 'node:net';
import { Debugger, type StopEvent, type RegisterSnapshot, type WatchKind } from './debugger';
import type { Machine, RunOutcome } from '../machine/machine';
import { RspReader, rspFrame, toHex, fromHex, le32Hex, parseLe32Hex, parseHexNumber, rspUnescape } from './gdb-packet';
import { I386_TARGET_XML, GDB_CORE_REGS, GDB_X87_REG_SIZES, GDB_CONTROL_REGS, GDB_CONTROL_REG_BASE } from './gdb-target-xml';

/** What the stub needs of the Debugger (a test can pass a fake). */
export type GdbTarget = Pick<Debugger,
  'step' | 'cont' | 'requestStop' | 'addBreakpoint' | 'removeBreakpoint' | 'addWatchpoint' | 'removeWatchpoint' |
  'regs' | 'setReg' | 'readLinear' | 'writeLinear'>;

export interface GdbStubOptions {
  /** Listen address; '' or undefined: every interface (as QEMU's `tcp::PORT`). */
  host?: string;
  /** TCP port; 0 picks a free one (see `port` after listen()). */
  port: number;
  /** -S: the guest stays stopped until gdb attaches and resumes it. */
  waitForDebugger?: boolean;
  /** Host time per run slice (ns): bounds the latency of Ctrl-C and new connections. Default 20 ms. */
  sliceNs?: number;
  /** Connection events, one line each. */
  log?: (line: string) => void;
  /** Polled while the guest is stopped: the run's outcome when something else (a signal) ended it. */
  pollEnded?: () => RunOutcome | null;
}

/** How the run under the stub ended. */
export type GdbRunEnd =
  | { kind: 'exited'; event: StopEvent }
  | { kind: 'killed' }
  | { kind: 'ended'; outcome: RunOutcome }
  /** close() was called while the guest could still run. */
  | { kind: 'closed' };

/** The packet size advertised in qSupported (hex in the reply: 0x4000 bytes). */
export const GDB_PACKET_SIZE = 0x4000;
const THREAD = '01';
const SIGINT = 0x02, SIGTRAP = 0x05;
/** gdb's GDB_SIGNAL numbers for guest ends that are not an exit code. */
const END_SIGNALS: Partial<Record<RunOutcome['reason'], number>> = { 'triple-fault': 0x0b, 'guest-error': 0x04, stopped: 0x09 };

type BpFlavour = 'sw' | 'hw';
type WatchType = 2 | 3 | 4;
const WATCH_KIND: Record<WatchType, WatchKind> = { 2: 'write', 3: 'read', 4: 'access' };
const WATCH_STOP: Record<WatchType, string> = { 2: 'watch', 3: 'rwatch', 4: 'awatch' };

function hex2(v: number): string { return (v & 0xff).toString(16).padStart(2, '0'); }

/** One gdb connection: framing, acks, no-ack mode and the packets queued while the guest runs. */
class GdbSession {
  readonly reader = new RspReader();
  noAck = false;
  /** Features gdb announced in its qSupported. */
  gdbFeatures = new Set<string>();
  private lastSent = '';
  readonly queue: string[] = [];
  closed = false;

  constructor(readonly socket: Socket) {}

  send(body: string): void {
    if (this.closed) return;
    this.lastSent = rspFrame(body);
    this.socket.write(Buffer.from(this.lastSent, 'latin1'));
  }
  raw(s: string): void { if (!this.closed) this.socket.write(s); }
  resend(): void { if (this.lastSent && !this.noAck && !this.closed) this.socket.write(Buffer.from(this.lastSent, 'latin1')); }
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
  }
}

export class GdbStub {
  private server: Server | null = null;
  private session: GdbSession | null = null;
  /** 'running': the loop runs slices; 'stopped': it waits for gdb. */
  private mode: 'stopped' | 'running';
  /** True while a resume asked by gdb (c, vCont;c) is in progress: its stop is reported. */
  private gdbResumed = false;
  private interruptPending = false;
  private attachPending = false;
  private end: GdbRunEnd | null = null;
  private lastStop = `T${hex2(SIGTRAP)}thread:${THREAD};`;
  private wakeFn: (() => void) | null = null;
  /** linear → the debugger breakpoint and which Z types set it. */
  private readonly bps = new Map<number, { id: number; sw: boolean; hw: boolean }>();
  /** `type:addr:len` → watchpoint id; id → type. */
  private readonly wps = new Map<string, number>();
  private readonly wpType = new Map<number, WatchType>();
  private readonly sliceNs: number;
  private boundPort = -1;

  constructor(readonly target: GdbTarget, readonly opts: GdbStubOptions) {
    this.mode = opts.waitForDebugger ? 'stopped' : 'running';
    this.sliceNs = opts.sliceNs ?? 20e6;
  }

  /** The port listened on (after listen()). */
  get port(): number { return this.boundPort; }

  /** Starts listening; rejects with the socket error (EADDRINUSE, EACCES…). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = createServer((s) => this.onConnection(s));
      srv.once('error', reject);
      srv.listen({ port: this.opts.port, host: this.opts.host || undefined }, () => {
        srv.off('error', reject);
        srv.on('error', (e) => this.log(`gdb stub: ${e.message}`));
        const a = srv.address();
        this.boundPort = typeof a === 'object' && a ? a.port : this.opts.port;
        this.server = srv;
        resolve(this.boundPort);
      });
    });
  }

  /** Runs the guest under the stub until it ends, gdb kills it, or something else ends it. */
  async run(): Promise<GdbRunEnd> {
    try {
      while (!this.end) {
        if (this.mode === 'stopped') {
          await this.sleep(50);
          const o = this.opts.pollEnded?.();
          if (o && !this.end) this.finishGuest({ kind: 'ended', outcome: o }, o);
          continue;
        }
        if (this.attachPending) {
          // A new connection stops the guest (gdb expects a stopped target on attach).
          this.attachPending = false;
          this.enterStopped(null);
          continue;
        }
        const ev = this.target.cont(Infinity, this.sliceNs);
        this.onRunEvent(ev);
        if (!this.end && this.mode === 'running') await new Promise<void>((res) => setImmediate(res));
      }
    } finally {
      this.close();
    }
    return this.end;
  }

  /** Closes the listener and any connection; a run() in progress ends ('closed'). */
  close(): void {
    if (!this.end) {
      this.end = { kind: 'closed' };
      this.wake();
    }
    this.session?.end();
    this.session?.socket.destroySoon();
    this.session = null;
    this.server?.close();
    this.server = null;
  }

  private log(line: string): void { this.opts.log?.(line); }

  private sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const t = setTimeout(() => { this.wakeFn = null; res(); }, ms);
      this.wakeFn = () => { clearTimeout(t); this.wakeFn = null; res(); };
    });
  }
  private wake(): void { this.wakeFn?.(); }

  // ------------------------------------------------------------------ running

  private onRunEvent(ev: StopEvent): void {
    switch (ev.reason) {
      case 'exited':
        this.finishGuest({ kind: 'exited', event: ev }, ev.outcome ?? null);
        return;
      case 'requested':
        if (this.interruptPending || this.attachPending) {
          const sig = this.interruptPending ? SIGINT : null;
          this.interruptPending = this.attachPending = false;
          this.enterStopped(sig === null ? null : this.stopReply(ev, SIGINT));
        }
        return;
      case 'breakpoint':
      case 'watchpoint':
      case 'step':
        if (this.session && this.gdbResumed) this.enterStopped(this.stopReply(ev, SIGTRAP));
        return;
      default: // 'budget', 'halted': the slice ended; go on
        return;
    }
  }

  /** Stops the guest; reports `reply` to gdb when given; serves the packets that queued up. */
  private enterStopped(reply: string | null): void {
    this.mode = 'stopped';
    this.gdbResumed = false;
    if (reply !== null) {
      this.lastStop = reply;
      this.session?.send(reply);
    } else {
      this.lastStop = `T${hex2(SIGTRAP)}thread:${THREAD};`;
    }
    this.drainQueue();
  }

  private resumeGuest(): void {
    this.mode = 'running';
    this.gdbResumed = true;
    this.wake();
  }

  /** The guest ended: tell gdb (W exit code, or X signal), and end the run. */
  private finishGuest(end: GdbRunEnd, outcome: RunOutcome | null): void {
    const sig = outcome ? END_SIGNALS[outcome.reason] : undefined;
    const reply = sig !== undefined ? `X${hex2(sig)}` : `W${hex2(outcome ? outcome.exitStatus : 0)}`;
    if (this.session) {
      this.session.send(reply);
      this.session.end();
    }
    this.end = end;
    this.wake();
  }

  private stopReply(ev: StopEvent, sig: number): string {
    let r = `T${hex2(sig)}`;
    if (sig === SIGTRAP) {
      if (ev.reason === 'watchpoint' && ev.watch) {
        const type = this.wpType.get(ev.watch.id) ?? 2;
        r += `${WATCH_STOP[type]}:${(ev.watch.addr >>> 0).toString(16)};`;
      } else if (ev.reason === 'breakpoint') {
        const bp = this.bps.get(ev.linear >>> 0);
        const f = this.session?.gdbFeatures;
        // Only when gdb announced it understands the stop reason (qSupported).
        if (bp?.sw && f?.has('swbreak')) r += 'swbreak:;';
        else if (bp?.hw && f?.has('hwbreak')) r += 'hwbreak:;';
      }
    }
    return `${r}thread:${THREAD};`;
  }

  // ------------------------------------------------------------------ connections

  private onConnection(s: Socket): void {
    if (this.session || this.end) {
      s.end(); // one debugger at a time
      return;
    }
    s.setNoDelay(true);
    const session = new GdbSession(s);
    this.session = session;
    this.log(`gdb connected from ${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`);
    // The run loop stops the guest at its next slice boundary (at most sliceNs away).
    if (this.mode === 'running') this.attachPending = true;
    s.on('data', (d: Buffer) => this.onData(session, d));
    s.on('error', () => { /* 'close' follows */ });
    s.on('close', () => this.onClose(session));
  }

  private onClose(session: GdbSession): void {
    session.closed = true;
    if (this.session !== session) return;
    this.session = null;
    if (this.end) return;
    this.log('gdb disconnected; the guest runs on');
    // As after `D`: no breakpoints left behind, the guest runs.
    this.clearPoints();
    this.interruptPending = this.attachPending = false;
    this.mode = 'running';
    this.gdbResumed = false;
    this.wake();
  }

  private onData(session: GdbSession, d: Buffer): void {
    for (const input of session.reader.feed(d)) {
      if (session.closed || this.session !== session) return;
      switch (input.kind) {
        case 'ack': break;
        case 'nack': session.resend(); break;
        case 'interrupt':
          if (this.mode === 'running' && this.gdbResumed && !this.interruptPending) {
            this.interruptPending = true;
            this.target.requestStop();
          }
          break;
        case 'packet':
          if (!input.checksumOk) {
            if (!session.noAck) session.raw('-');
            break;
          }
          if (!session.noAck) session.raw('+');
          session.queue.push(input.data);
          if (this.mode === 'stopped') this.drainQueue();
          break;
      }
    }
  }

  private drainQueue(): void {
    const s = this.session;
    if (!s) return;
    while (s.queue.length > 0 && this.mode === 'stopped' && !this.end && this.session === s) {
      const pkt = s.queue.shift() as string;
      const reply = this.handle(s, pkt);
      if (reply !== null) s.send(reply);
    }
  }

  // ------------------------------------------------------------------ packets

  /** Handles one packet while the guest is stopped; returns the reply, or null when there is none (yet). */
  private handle(s: GdbSession, pkt: string): string | null {
    const cmd = pkt[0] ?? '';
    const arg = pkt.slice(1);
    switch (cmd) {
      case '?': return this.lastStop;
      case 'g': return this.readAllRegs();
      case 'G': return this.writeAllRegs(arg);
      case 'p': return this.readReg(arg);
      case 'P': return this.writeReg(arg);
      case 'm': return this.readMem(arg);
      case 'M': return this.writeMem(arg, false);
      case 'X': return this.writeMem(arg, true);
      case 'c': case 'C': return this.cont(cmd === 'c' ? arg : arg.split(';')[1] ?? '');
      case 's': case 'S': return this.stepOne(cmd === 's' ? arg : arg.split(';')[1] ?? '');
      case 'Z': case 'z': return this.point(cmd === 'Z', arg);
      case 'H': return 'OK';
      case 'T': return 'OK'; // thread alive
      case 'D':
        s.send('OK');
        this.detach(s);
        return null;
      case 'k':
        this.kill(s);
        return null;
      case 'q': case 'Q': return this.query(s, pkt);
      case 'v': return this.vPacket(s, pkt);
      default: return '';
    }
  }

  private query(s: GdbSession, pkt: string): string | null {
    if (pkt.startsWith('qSupported')) {
      const feats = pkt.slice('qSupported:'.length).split(';');
      for (const f of feats) if (f.endsWith('+')) s.gdbFeatures.add(f.slice(0, -1));
      return `PacketSize=${GDB_PACKET_SIZE.toString(16)};qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+`;
    }
    if (pkt === 'QStartNoAckMode') {
      s.send('OK'); // still acknowledged by gdb; no acks from here on
      s.noAck = true;
      return null;
    }
    if (pkt.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(pkt);
      if (!m) return 'E00';
      if (m[1] !== 'target.xml') return 'E00';
      const off = Number.parseInt(m[2], 16), len = Number.parseInt(m[3], 16);
      const chunk = I386_TARGET_XML.slice(off, off + len);
      return (off + len >= I386_TARGET_XML.length ? 'l' : 'm') + chunk;
    }
    if (pkt === 'qAttached' || pkt.startsWith('qAttached:')) return '1';
    if (pkt === 'qC') return `QC${THREAD}`;
    if (pkt === 'qfThreadInfo') return `m${THREAD}`;
    if (pkt === 'qsThreadInfo') return 'l';
    if (pkt.startsWith('qSymbol')) return 'OK';
    return '';
  }

  private vPacket(s: GdbSession, pkt: string): string | null {
    if (pkt === 'vCont?') return 'vCont;c;C;s;S';
    if (pkt.startsWith('vCont;')) {
      // One thread: the first action that applies to it (all of them do) decides.
      const action = pkt.slice(6).split(';')[0] ?? '';
      const a = action.split(':')[0];
      if (a === 'c' || a.startsWith('C')) return this.cont('');
      if (a === 's' || a.startsWith('S')) return this.stepOne('');
      return 'E01';
    }
    if (pkt.startsWith('vKill')) {
      s.send('OK');
      this.kill(s);
      return null;
    }
    return ''; // vMustReplyEmpty and everything unknown
  }

  // --- registers

  private readAllRegs(): string {
    const r = this.target.regs();
    return GDB_CORE_REGS.map((n) => le32Hex(r[n])).join('');
  }

  private writeAllRegs(hex: string): string {
    if (hex.length < GDB_CORE_REGS.length * 8) return 'E01';
    const cur = this.target.regs();
    for (let i = 0; i < GDB_CORE_REGS.length; i++) {
      const chunk = hex.slice(8 * i, 8 * i + 8);
      if (chunk.includes('x')) continue; // unavailable: left as it is
      const v = parseLe32Hex(chunk);
      if (v === null) return 'E01';
      const name = GDB_CORE_REGS[i];
      if (v !== cur[name] && !this.setReg(name, v)) return 'E01';
    }
    return 'OK';
  }

  private setReg(name: keyof RegisterSnapshot, v: number): boolean {
    try {
      this.target.setReg(name, v);
      return true;
    } catch {
      return false;
    }
  }

  private readReg(arg: string): string {
    const n = parseHexNumber(arg);
    if (n === null) return 'E01';
    if (n < GDB_CORE_REGS.length) return le32Hex(this.target.regs()[GDB_CORE_REGS[n]]);
    const x87 = GDB_X87_REG_SIZES[n - GDB_CORE_REGS.length];
    if (x87 !== undefined) return 'x'.repeat(2 * x87); // unavailable: no x87 state through the stub yet
    const cr = GDB_CONTROL_REGS[n - GDB_CONTROL_REG_BASE];
    if (cr !== undefined) return le32Hex(this.target.regs()[cr]);
    return 'E01';
  }

  private writeReg(arg: string): string {
    const eq = arg.indexOf('=');
    const n = parseHexNumber(arg.slice(0, eq));
    if (eq < 0 || n === null) return 'E01';
    const name = n < GDB_CORE_REGS.length ? GDB_CORE_REGS[n] : GDB_CONTROL_REGS[n - GDB_CONTROL_REG_BASE];
    const v = parseLe32Hex(arg.slice(eq + 1));
    if (name === undefined || v === null) return 'E01';
    return this.setReg(name, v) ? 'OK' : 'E01';
  }

  // --- memory

  private static addrLen(s: string): [number, number] | null {
    const comma = s.indexOf(',');
    if (comma < 0) return null;
    const a = parseHexNumber(s.slice(0, comma)), l = parseHexNumber(s.slice(comma + 1));
    if (a === null || l === null) return null;
    return [a >>> 0, l];
  }

  private readMem(arg: string): string {
    const al = GdbStub.addrLen(arg);
    if (!al) return 'E01';
    const [addr, len0] = al;
    const len = Math.min(len0, Math.floor((GDB_PACKET_SIZE - 4) / 2));
    if (len === 0) return '';
    const bytes = this.target.readLinear(addr, len);
    const firstBad = bytes.indexOf(null);
    // gdb takes a short reply as a partial read; nothing readable at all is an error.
    if (firstBad === 0) return 'E14';
    return toHex((firstBad < 0 ? bytes : bytes.slice(0, firstBad)) as number[]);
  }

  private writeMem(arg: string, binary: boolean): string {
    const colon = arg.indexOf(':');
    if (colon < 0) return 'E01';
    const al = GdbStub.addrLen(arg.slice(0, colon));
    if (!al) return 'E01';
    const [addr, len] = al;
    let data: Uint8Array | null;
    if (binary) {
      const raw = rspUnescape(arg.slice(colon + 1));
      data = Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff);
    } else {
      data = fromHex(arg.slice(colon + 1));
    }
    if (!data || data.length !== len) return 'E01';
    if (len === 0) return 'OK';
    return this.target.writeLinear(addr, data) ? 'OK' : 'E14';
  }

  // --- execution

  private setPcFrom(arg: string): boolean {
    if (arg === '') return true;
    const a = parseHexNumber(arg);
    return a !== null && this.setReg('eip', a);
  }

  private cont(addrArg: string): string | null {
    if (!this.setPcFrom(addrArg)) return 'E01';
    this.resumeGuest();
    return null; // the stop reply comes when the guest stops
  }

  private stepOne(addrArg: string): string | null {
    if (!this.setPcFrom(addrArg)) return 'E01';
    let ev = this.target.step(1);
    // A stop request left over from an earlier interrupt ends a resume at once; step again.
    if (ev.reason === 'requested') ev = this.target.step(1);
    if (ev.reason === 'exited') {
      this.finishGuest({ kind: 'exited', event: ev }, ev.outcome ?? null);
      return null;
    }
    const reply = this.stopReply(ev.reason === 'watchpoint' ? ev : { ...ev, reason: 'step' }, SIGTRAP);
    this.lastStop = reply;
    return reply;
  }

  private point(insert: boolean, arg: string): string {
    const parts = arg.split(';')[0].split(',');
    if (parts.length < 3) return 'E01';
    const type = Number(parts[0]);
    const addr = parseHexNumber(parts[1]);
    const kind = parseHexNumber(parts[2]);
    if (addr === null || kind === null || !(type >= 0 && type <= 4)) return '';
    const lin = addr >>> 0;
    if (type === 0 || type === 1) {
      const flavour: BpFlavour = type === 0 ? 'sw' : 'hw';
      const bp = this.bps.get(lin);
      if (insert) {
        if (bp) bp[flavour] = true;
        else this.bps.set(lin, { id: this.target.addBreakpoint(lin), sw: flavour === 'sw', hw: flavour === 'hw' });
      } else if (bp) {
        bp[flavour] = false;
        if (!bp.sw && !bp.hw) {
          this.target.removeBreakpoint(bp.id);
          this.bps.delete(lin);
        }
      }
      return 'OK';
    }
    const wt = type as WatchType;
    const key = `${wt}:${lin}:${kind}`;
    if (insert) {
      if (kind < 1) return 'E01';
      if (!this.wps.has(key)) {
        const id = this.target.addWatchpoint(WATCH_KIND[wt], lin, kind, 'linear');
        this.wps.set(key, id);
        this.wpType.set(id, wt);
      }
    } else {
      const id = this.wps.get(key);
      if (id !== undefined) {
        this.target.removeWatchpoint(id);
        this.wps.delete(key);
        this.wpType.delete(id);
      }
    }
    return 'OK';
  }

  private clearPoints(): void {
    for (const bp of this.bps.values()) this.target.removeBreakpoint(bp.id);
    this.bps.clear();
    for (const id of this.wps.values()) this.target.removeWatchpoint(id);
    this.wps.clear();
    this.wpType.clear();
  }

  /** `D`: breakpoints and watchpoints go, the connection closes, the guest runs on. */
  private detach(s: GdbSession): void {
    this.log('gdb detached; the guest runs on');
    this.clearPoints();
    this.session = null;
    s.end();
    this.mode = 'running';
    this.gdbResumed = false;
    this.wake();
  }

  /** `k`: the run ends. */
  private kill(s: GdbSession): void {
    this.log('killed from gdb');
    this.clearPoints();
    s.end();
    this.session = null;
    this.end = { kind: 'killed' };
    this.wake();
  }
}

/** Parses `--gdb DEV`: `tcp::PORT`, `tcp:HOST:PORT`, `:PORT` or `PORT`. Null when malformed. */
export function parseGdbDevice(dev: string): { host: string; port: number } | null {
  const m = /^(?:tcp:)?(?:(\[[^\]]*\]|[^:]*):)?(\d+)$/.exec(dev.trim());
  if (!m) return null;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port };
}

export interface RunWithGdbOptions {
  /** The --gdb device (`tcp::1234`…). */
  dev: string;
  /** -S: do not run the guest until gdb resumes it. */
  waitForDebugger: boolean;
  /** Progress lines (the CLI prints them dim on stderr). */
  log: (line: string) => void;
  /** Turns a bad device or a port in use into the caller's user error. */
  userError: (message: string) => Error;
}

/**
 * Runs `machine` under a gdb stub until the guest ends (the outcome it ended with),
 * gdb kills it (a 'stopped' outcome), or a signal stops it.
 */
export async function runWithGdb(machine: Machine, o: RunWithGdbOptions): Promise<RunOutcome> {
  const where = parseGdbDevice(o.dev);
  if (!where) throw o.userError(`--gdb ${o.dev}: not a gdb device (use tcp::PORT or tcp:HOST:PORT)`);
  const dbg = new Debugger(machine);
  const stub = new GdbStub(dbg, {
    host: where.host, port: where.port, waitForDebugger: o.waitForDebugger, log: o.log,
    pollEnded: () => machine.runFor(0),
  });
  try {
    await stub.listen();
  } catch (e) {
    throw o.userError(`--gdb ${o.dev}: cannot listen: ${(e as Error).message}`);
  }
  o.log(`gdb stub listening on tcp:${where.host.includes(':') ? `[${where.host}]` : where.host}:${stub.port}`);
  const end = await stub.run();
  if (end.kind === 'ended') return end.outcome;
  if (end.kind === 'exited' && end.event.outcome) return end.event.outcome;
  machine.stop(end.kind === 'killed' ? 'killed from gdb' : 'the gdb stub closed');
  return machine.runFor(0) ?? { reason: 'stopped', exitStatus: 130, message: 'killed from gdb', instructions: 0 };
}
