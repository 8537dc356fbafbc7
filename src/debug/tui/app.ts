// The full-screen stepper (`ts86 step` on a terminal): panels for the disassembly,
// registers, EFLAGS, segments, stack, memory, the page walk and the guest console;
// one-key commands and a ':' command line. Raw mode and the alternate screen are
// always restored on exit (normal, error, or signal).
//
// Keys: s step, n next (step over), c continue (any key or Ctrl-C stops it),
// b toggle a breakpoint at the cursor line, j/k or arrows move the cursor,
// : command line, q quit.
// Commands: x/NU ADDR (U = b bytes, h halfwords, w words), walk ADDR, regs, b ADDR,
// d N (delete breakpoint N), bl (list breakpoints), s N (step N), until ADDR, help.
import { style, useTerminalStyle } from './style';
import type { Debugger, RegisterSnapshot, StopEvent } from '../debugger';
import type { SymbolTable } from '../symbols';
import { ALT_SCREEN_OFF, ALT_SCREEN_ON, CLEAR, CLEAR_EOL, CURSOR_HIDE, CURSOR_SHOW, HOME, box, column, fit } from './ansi';
import { disasmPanel, findDisasmStart, flagsPanel, memoryBytesPerLine, memoryPanel, registersPanel, segmentsPanel, stackPanel, walkPanel, type MemUnit } from './panels';
import { parseAddrExpr } from './expr';
import { formatAddress } from '../trace';

export interface TuiOptions {
  symbols: SymbolTable | null;
  /** The guest console, shown in its panel. */
  console: { lastLines(n: number): string[] };
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
}

const hex = (v: number, n = 8): string => (v >>> 0).toString(16).padStart(n, '0');

/** The screen model: everything the renderer needs besides the debugger. */
export class TuiState {
  prev: RegisterSnapshot | null = null;
  disasmTop = -1;
  cursor = -1;
  memAddr: number;
  memUnit: MemUnit = 'b';
  walkAddr: number | null = null;
  messages: string[] = [];
  cmdline: string | null = null;
  status = 'ready';
  running = false;
  ended: StopEvent | null = null;
  lastAddrs: (number | null)[] = [];
  /** Linear addresses EIP has been at: known instruction starts for the disassembly window. */
  readonly history: number[] = [];

  constructor(readonly dbg: Debugger, readonly opts: TuiOptions) {
    this.memAddr = dbg.linearOfEip() & ~0xf;
    this.cursor = dbg.linearOfEip();
  }

  say(...lines: string[]): void {
    this.messages.push(...lines);
    if (this.messages.length > 50) this.messages = this.messages.slice(-50);
  }

  /** The whole screen as `rows` lines of `cols` columns. */
  render(cols: number, rows: number): string[] {
    const dbg = this.dbg, sym = this.opts.symbols;
    const r = dbg.regs();
    const rightW = Math.max(46, Math.min(60, Math.floor(cols * 0.38))), leftW = cols - rightW;
    const consoleH = 4, msgH = 2;
    const bodyH = rows - 1 - consoleH - msgH - 1;
    const eip = dbg.linearOfEip();
    if (this.history[this.history.length - 1] !== eip) { this.history.push(eip); if (this.history.length > 256) this.history.shift(); }
    const perLine = memoryBytesPerLine(leftW - 2);
    const memRows = perLine === 16 ? 4 : 6, walkRows = 6;
    const disasmRows = Math.max(3, bodyH - (memRows + 2) - (walkRows + 2) - 2);
    // Keep the disassembly window still while EIP moves inside it.
    const within = this.lastAddrs.slice(0, Math.max(1, this.lastAddrs.length - 3)).includes(eip);
    if (!within || this.disasmTop < 0) this.disasmTop = findDisasmStart(dbg, eip, Math.min(4, Math.floor(disasmRows / 3)), this.history, sym);
    let view = disasmPanel(dbg, this.disasmTop, disasmRows, this.cursor, sym);
    if (!view.addrs.includes(eip)) { this.disasmTop = eip; view = disasmPanel(dbg, eip, disasmRows, this.cursor, sym); }
    this.lastAddrs = view.addrs;
    const walkAddr = this.walkAddr ?? eip;
    const eipSym = sym?.describe(eip);
    const left = column([
      [`Disassembly${eipSym ? ` <${eipSym}>` : ''}`, view.lines, disasmRows + 2],
      [`Memory x/${this.memUnit} ${hex(this.memAddr)}`, memoryPanel(dbg, this.memAddr, this.memUnit, memRows, perLine), memRows + 2],
      [`Page walk ${hex(walkAddr)}`, walkPanel(dbg, walkAddr), walkRows + 2],
    ], leftW, bodyH);
    const stackRows = Math.max(1, bodyH - 9 - 5 - 11 - 2);
    const right = column([
      ['Registers (* = changed)', registersPanel(r, this.prev), 9],
      ['EFLAGS', flagsPanel(dbg, r, this.prev), 5],
      ['Segments', segmentsPanel(dbg, this.prev, r), 11],
      ['Stack', stackPanel(dbg, stackRows, sym), stackRows + 2],
    ], rightW, bodyH);
    const cpu = dbg.cpu;
    const title = style.inverse(fit(` ts86 step  ${formatAddress(cpu.segSel[1] & 0xffff, cpu.eip, cpu.code32)} (linear ${hex(eip)})  instructions ${cpu.icount}  ${this.status}`, cols));
    const out = [title];
    for (let k = 0; k < bodyH; k++) out.push(left[k] + right[k]);
    out.push(...box('Guest console', this.opts.console.lastLines(consoleH - 2), cols, consoleH));
    const msgs = this.messages.slice(-msgH);
    for (let k = 0; k < msgH; k++) out.push(fit(msgs[k] ?? '', cols));
    const help = this.running ? style.yellow(' running... any key or Ctrl-C stops') : ' s step  n next  c continue  b breakpoint  j/k cursor  : command  q quit';
    out.push(this.cmdline !== null ? fit(`:${this.cmdline}${style.inverse(' ')}`, cols) : fit(style.dim(help), cols));
    return out.slice(0, rows).map((l) => fit(l, cols));
  }
}

/** Describes a stop for the status line and the message area. */
function describeStop(ev: StopEvent, dbg: Debugger): string {
  const where = formatAddress(dbg.cpu.segSel[1] & 0xffff, ev.eip, dbg.cpu.code32);
  switch (ev.reason) {
    case 'exited': return `guest ended: ${ev.outcome?.message.split('\n')[0] ?? ''} (exit status ${ev.outcome?.exitStatus ?? 0})`;
    case 'watchpoint': return `watchpoint ${ev.watch?.id ?? ''} (${ev.watch?.write ? 'write' : 'read'} of ${hex(ev.watch?.addr ?? 0)}) before ${where}`;
    case 'breakpoint': return `breakpoint at ${where}`;
    case 'halted': return `HLT: waiting for an interrupt at ${where}`;
    default: return `stopped (${ev.reason}) at ${where}`;
  }
}

/** Runs the TUI until the user quits; returns the exit status (the guest's, if it ended). */
export async function runTui(dbg: Debugger, opts: TuiOptions): Promise<number> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  useTerminalStyle(output.isTTY === true);
  const st = new TuiState(dbg, opts);
  const sym = opts.symbols;
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    try { if (input.isTTY) input.setRawMode(false); } catch { /* the terminal is gone */ }
    output.write(CURSOR_SHOW + ALT_SCREEN_OFF);
  };
  const onExit = (): void => restore();
  const onTerm = (): void => { restore(); process.exit(143); };
  process.on('exit', onExit);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onTerm);
  const draw = (): void => {
    const lines = st.render(output.columns || 120, output.rows || 40);
    output.write(HOME + lines.join(CLEAR_EOL + '\r\n') + CLEAR_EOL);
  };

  let resolveQuit: (() => void) | null = null;
  const quit = new Promise<void>((res) => { resolveQuit = res; });

  const after = (ev: StopEvent, before: RegisterSnapshot): void => {
    st.prev = before;
    st.cursor = dbg.linearOfEip();
    st.status = describeStop(ev, dbg);
    if (ev.reason === 'exited') { st.ended = ev; st.say(style.yellow(st.status)); }
    else if (ev.reason !== 'step') st.say(st.status);
  };

  /** A quit key (q, Ctrl-C, Ctrl-D) pressed while the guest was running: stop, then quit. */
  let quitAfterRun = false;
  const runAsync = async (what: () => Promise<StopEvent>): Promise<void> => {
    const before = dbg.regs();
    st.running = true;
    st.status = 'running';
    draw();
    const tick = setInterval(draw, 250);
    try {
      const ev = await what();
      after(ev, before);
    } finally {
      clearInterval(tick);
      st.running = false;
      if (quitAfterRun) resolveQuit?.();
    }
  };

  const stepN = (n: number): void => {
    const before = dbg.regs();
    after(dbg.step(n), before);
  };

  const command = async (line: string): Promise<void> => {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    const arg = rest.join(' ');
    const addr = (s: string): number | null => {
      const v = parseAddrExpr(s, dbg, sym);
      if (v === null) st.say(style.red(`not an address: '${s}' (hex numbers, seg:off, registers or symbols)`));
      return v;
    };
    const x = /^x(?:\/(\d*)([bhwx]?))?$/.exec(cmd ?? '');
    if (x) {
      const a = arg ? addr(arg) : st.memAddr;
      if (a === null) return;
      st.memAddr = a;
      st.memUnit = x[2] === 'h' ? 'h' : x[2] === 'w' ? 'w' : 'b';
      const n = x[1] ? Number(x[1]) : 16;
      const size = st.memUnit === 'b' ? 1 : st.memUnit === 'h' ? 2 : 4;
      const bytes = dbg.readLinear(a, n * size);
      const cells: string[] = [];
      for (let k = 0; k < n; k++) {
        const part = bytes.slice(k * size, k * size + size);
        cells.push(part.some((b) => b === null) ? '??'.repeat(size) : hex(part.reduce<number>((acc, b, j) => acc + (b ?? 0) * 2 ** (8 * j), 0), size * 2));
      }
      st.say(`${hex(a)}: ${cells.join(' ')}`);
      return;
    }
    switch (cmd) {
      case 'walk': { const a = arg ? addr(arg) : dbg.linearOfEip(); if (a !== null) { st.walkAddr = a; st.say(`page walk of ${hex(a)} in its panel`); } return; }
      case 'regs': st.say(...dbg.cpu.describe().split('\n')); return;
      case 'b': case 'break': {
        const a = arg ? addr(arg) : st.cursor;
        if (a === null) return;
        st.say(`breakpoint ${dbg.addBreakpoint(a)} at ${hex(a)}${sym?.describe(a) ? ` <${sym.describe(a)}>` : ''}`);
        return;
      }
      case 'd': case 'delete': {
        const n = Number(arg);
        st.say(Number.isInteger(n) && dbg.removeBreakpoint(n) ? `breakpoint ${n} deleted` : style.red(`no breakpoint ${arg}`));
        return;
      }
      case 'bl': st.say(dbg.breakpoints().map((b) => `${b.id}: ${hex(b.linear)}`).join('  ') || 'no breakpoints'); return;
      case 's': case 'step': { const n = arg ? Number(arg) : 1; if (Number.isInteger(n) && n > 0) stepN(n); else st.say(style.red(`s N: N must be a positive integer`)); return; }
      case 'until': { const a = addr(arg); if (a !== null) await runAsync(() => dbg.runToAsync(a)); return; }
      case 'help': case 'h':
        st.say('x/NU ADDR (U=b,h,w)  walk ADDR  regs  b ADDR  d N  bl  s N  until ADDR  help', 'keys: s step  n next  c continue  b breakpoint at cursor  j/k cursor  q quit', 'addresses: hex (0x optional), seg:off, registers (eip, esp…), symbols, +/- hex offset');
        return;
      case undefined: case '': return;
      default: st.say(style.red(`unknown command '${cmd}' (help lists them)`));
    }
  };

  const moveCursor = (d: number): void => {
    const addrs = st.lastAddrs.filter((a): a is number => a !== null);
    const k = addrs.indexOf(st.cursor);
    const next = addrs[Math.max(0, Math.min(addrs.length - 1, (k < 0 ? 0 : k) + d))];
    if (next !== undefined) st.cursor = next;
  };

  /** Splits a chunk of terminal input into keys (escape sequences stay whole). */
  const keysOf = (s: string): string[] => {
    const out: string[] = [];
    for (let k = 0; k < s.length;) {
      // eslint-disable-next-line no-control-regex
      const m = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(s.slice(k));
      const key = m ? m[0] : s[k];
      out.push(key);
      k += key.length;
    }
    return out;
  };

  const handleKey = async (key: string): Promise<boolean> => {
    if (st.cmdline !== null) {
      if (key === '\r' || key === '\n') {
        const line = st.cmdline;
        st.cmdline = null;
        await command(line);
      } else if (key === '\x1b' || key === '\x03') st.cmdline = null;
      else if (key === '\x7f' || key === '\b') st.cmdline = st.cmdline.slice(0, -1);
      else if (key.length === 1 && key >= ' ') st.cmdline += key;
      return true;
    }
    switch (key) {
      case '\x1b[A': moveCursor(-1); break;
      case '\x1b[B': moveCursor(1); break;
      case 's': stepN(1); break;
      case 'n': await runAsync(() => dbg.stepOverAsync()); break;
      case 'c': await runAsync(() => dbg.contAsync()); break;
      case 'b': {
        const a = st.cursor;
        if (dbg.hasBreakpoint(a)) { dbg.removeBreakpoint(a); st.say(`breakpoint at ${hex(a)} removed`); }
        else st.say(`breakpoint ${dbg.addBreakpoint(a)} at ${hex(a)}`);
        break;
      }
      case 'j': moveCursor(1); break;
      case 'k': moveCursor(-1); break;
      case ':': st.cmdline = ''; break;
      case 'q': case '\x03': case '\x04': resolveQuit?.(); return false;
      case '\x0c': output.write(CLEAR); break;
      default: break;
    }
    return true;
  };

  // Keys are handled one at a time, in order; while the guest runs, any key stops it.
  const queue: string[] = [];
  let busy = false;
  const onKey = async (data: Buffer): Promise<void> => {
    if (st.running) {
      dbg.requestStop();
      if (/[q\x03\x04]/.test(data.toString('latin1'))) quitAfterRun = true;
      return;
    }
    queue.push(...keysOf(data.toString('latin1')));
    if (busy) return;
    busy = true;
    try {
      while (queue.length) {
        const key = queue.shift() ?? '';
        try {
          if (!(await handleKey(key))) return;
        } catch (e) {
          st.say(style.red(String((e as Error).message ?? e)));
        }
        draw();
      }
    } finally {
      busy = false;
    }
  };

  const onData = (d: Buffer): void => { void onKey(d); };
  const onResize = (): void => { output.write(CLEAR); draw(); };
  try {
    if (input.isTTY) input.setRawMode(true);
    input.resume();
    input.on('data', onData);
    output.on('resize', onResize);
    output.write(ALT_SCREEN_ON + CURSOR_HIDE + CLEAR);
    if (sym) st.say(`${sym.size} symbols loaded`);
    st.say('s step, n next, c continue, : command (help lists them), q quit');
    draw();
    await quit;
  } finally {
    input.off('data', onData);
    output.off('resize', onResize);
    input.pause();
    restore();
    process.off('exit', onExit);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onTerm);
  }
  return st.ended?.outcome?.exitStatus ?? 0;
}
