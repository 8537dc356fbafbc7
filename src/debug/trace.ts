// Instruction traces: one line per executed instruction, in the format `ts86 step
// --plain` prints (see formatStepLine), for `ts86 step --trace FILE` and as a library
// call, traceRun(machine, opts), which `ts86 run --trace` can use.
//
// Line format (stable; tests and scripts may parse it):
//   CCCC:IIII  BB BB ..            mnemonic operands        NAME=value ... EFL=xxxxxxxx +ZF -CF
// - the address: CS:IP (4 hex digits of IP in real / virtual-8086 / 16-bit code) or
//   CS:EIP (8 digits in 32-bit code), of the instruction *before* it executed;
//   with a symbol table, followed by " <symbol+0xoff>" and padded to a fixed width
//   (36 columns for 16-bit code, 40 for 32-bit), and branch targets in the
//   disassembly annotated as objdump does ("call 0x7c2f <func>");
// - the instruction bytes in hex (column 22 wide, longer instructions widen it);
// - the disassembly (GNU objdump Intel syntax, mnemonic padding collapsed to one space),
//   column 28 wide;
// - every register the instruction changed, in REGISTER_NAMES order except EIP and
//   EFLAGS: GPRs as EAX=8 hex digits, segment selectors as CS=4 digits, CRn as 8;
// - when EFLAGS changed: EFL=new value, then each changed flag as +NAME (set) or
//   -NAME (cleared), from CF PF AF ZF SF TF IF DF OF NT RF VM AC and IOPL=n.
// An interrupt or exception delivered right after an instruction shows in that
// instruction's changes (CS, ESP, EFL) and in the address of the next line.
import type { Machine } from '../machine/machine';
import { Debugger, REGISTER_NAMES, type RegisterSnapshot, type StopEvent } from './debugger';
import { disassembleOne } from './disasm';
import type { SymbolTable } from './symbols';

const hex = (v: number, n: number): string => (v >>> 0).toString(16).padStart(n, '0');

/** EFLAGS bits by name (SDM Vol.1 §3.4.3). */
export const EFLAGS_BITS: readonly [string, number][] = [
  ['CF', 0], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
  ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21],
];

/** The set flags of an EFLAGS value: "ZF PF IF IOPL=0". */
export function describeEflags(v: number): string {
  const on = EFLAGS_BITS.filter(([, b]) => (v >>> b) & 1).map(([n]) => n);
  return [...on, `IOPL=${(v >>> 12) & 3}`].join(' ');
}

/** "+ZF -CF IOPL=3": the flag changes from `a` to `b`. */
export function eflagsChanges(a: number, b: number): string {
  const out: string[] = [];
  for (const [n, bit] of EFLAGS_BITS) {
    const x = (a >>> bit) & 1, y = (b >>> bit) & 1;
    if (x !== y) out.push(`${y ? '+' : '-'}${n}`);
  }
  if (((a ^ b) >>> 12) & 3) out.push(`IOPL=${(b >>> 12) & 3}`);
  return out.join(' ');
}

const SEGS = new Set<keyof RegisterSnapshot>(['cs', 'ss', 'ds', 'es', 'fs', 'gs']);

/** "EAX=00000006 ECX=00000002 EFL=00000006 +PF": the registers that differ between two snapshots. */
export function registerChanges(a: RegisterSnapshot, b: RegisterSnapshot): string {
  const out: string[] = [];
  for (const n of REGISTER_NAMES) {
    if (n === 'eip' || n === 'eflags' || a[n] === b[n]) continue;
    out.push(`${n.toUpperCase()}=${hex(b[n], SEGS.has(n) ? 4 : 8)}`);
  }
  if (a.eflags !== b.eflags) out.push(`EFL=${hex(b.eflags, 8)}`, eflagsChanges(a.eflags, b.eflags));
  return out.join(' ');
}

/** One decoded instruction at the current EIP, read without side effects. */
export interface InsnAt {
  cs: number;
  eip: number;
  linear: number;
  code32: boolean;
  /** The instruction's bytes (what could be read: fewer when the page is unmapped). */
  bytes: number[];
  /** Disassembly with the mnemonic padding collapsed ("xor ax,ax"); "??" when unreadable. */
  text: string;
}

/** Disassembles the instruction at linear `lin` (offset `eip` in CS) without side effects. */
export function insnAt(dbg: Debugger, lin: number = dbg.linearOfEip(), eip: number = dbg.cpu.eip): InsnAt {
  const cpu = dbg.cpu;
  const raw = dbg.readLinear(lin, 15);
  const firstNull = raw.indexOf(null);
  const avail = Uint8Array.from((firstNull < 0 ? raw : raw.slice(0, firstNull)) as number[]);
  const code32 = cpu.code32;
  if (avail.length === 0) return { cs: cpu.segSel[1] & 0xffff, eip, linear: lin, code32, bytes: [], text: '?? (not mapped)' };
  const d = disassembleOne(avail, 0, eip, code32 ? 32 : 16);
  return { cs: cpu.segSel[1] & 0xffff, eip, linear: lin, code32, bytes: [...avail.subarray(0, d.len)], text: d.text.replace(/^(\S+)\s+/, '$1 ') };
}

/** "0000:7c00" or "0008:c0001000". */
export function formatAddress(cs: number, eip: number, code32: boolean): string {
  return `${hex(cs, 4)}:${hex(eip, code32 ? 8 : 4)}`;
}

/** objdump's "call 0x7c2f <func>": the symbol of a branch target, when one is known. */
export function annotateTarget(insn: InsnAt, csBase: number, symbols?: SymbolTable | null): string {
  if (!symbols) return insn.text;
  const m = /^(call|jmp|j[a-z]+|loop[a-z]*|jcxz|jecxz)\s+(0x[0-9a-f]+)$/.exec(insn.text);
  if (!m) return insn.text;
  const sym = symbols.describe((csBase + parseInt(m[2], 16)) >>> 0);
  return sym ? `${insn.text} <${sym}>` : insn.text;
}

/** One trace line (see the header for the format). `csBase` places branch targets (symbols only). */
export function formatStepLine(insn: InsnAt, before: RegisterSnapshot, after: RegisterSnapshot, symbols?: SymbolTable | null, csBase = (insn.linear - insn.eip) >>> 0): string {
  const sym = symbols?.describe(insn.linear);
  let addr = formatAddress(insn.cs, insn.eip, insn.code32);
  // With a symbol table the address column is wider, so that columns still line up.
  if (symbols) addr = `${addr}${sym ? ` <${sym}>` : ''}`.padEnd(insn.code32 ? 40 : 36);
  const bytes = insn.bytes.map((b) => hex(b, 2)).join(' ');
  const changes = registerChanges(before, after);
  return `${addr}  ${bytes.padEnd(20)}  ${annotateTarget(insn, csBase, symbols).padEnd(28)}${changes ? ' ' + changes : ''}`.trimEnd();
}

export interface TraceOptions {
  /** Where lines go (a file writer, stdout, an array). */
  out: (line: string) => void;
  /** Only instructions whose linear address is in [lo, hi] (inclusive). */
  range?: { lo: number; hi: number };
  /** Stop tracing (the guest runs on at full speed) after this many lines. */
  maxLines?: number;
  /** Stop the run after this many instructions (default: until the guest ends). */
  maxInstructions?: number;
  symbols?: SymbolTable | null;
}

/**
 * Traces instructions through a Debugger's instruction hook: at each boundary the
 * previous instruction's line is completed with the registers it changed. Attach,
 * run (step/cont, any number of times), then detach() (which flushes the last line).
 */
export class Tracer {
  private pending: { insn: InsnAt; before: RegisterSnapshot } | null = null;
  private lines = 0;
  private attached = false;

  constructor(private readonly dbg: Debugger, private readonly opts: TraceOptions) {}

  get lineCount(): number { return this.lines; }

  attach(): void {
    if (this.attached) return;
    this.attached = true;
    this.dbg.setInstructionHook((lin) => this.boundary(lin));
  }

  /** Completes the pending line (registers as they are now) and removes the hook. */
  detach(): void {
    this.flush();
    if (this.attached) this.dbg.setInstructionHook(null);
    this.attached = false;
  }

  private flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const after = this.dbg.regs();
    this.opts.out(formatStepLine(p.insn, p.before, after, this.opts.symbols));
    this.lines++;
  }

  private boundary(lin: number): void {
    this.flush();
    const max = this.opts.maxLines ?? Infinity;
    if (this.lines >= max) {
      // Enough lines: let the guest run at full speed.
      this.dbg.setInstructionHook(null);
      this.attached = false;
      return;
    }
    const r = this.opts.range;
    if (r && (lin < r.lo || lin > r.hi)) return;
    this.pending = { insn: insnAt(this.dbg, lin, this.dbg.cpu.eip), before: this.dbg.regs() };
  }
}

/**
 * Runs `machine` (from its current state) with an instruction trace until it ends,
 * `maxInstructions` run, or `dbg.requestStop()` (give your own Debugger to stop it
 * from a signal handler). Yields to the host event loop every few milliseconds.
 */
export async function traceRun(machine: Machine, opts: TraceOptions, dbg: Debugger = new Debugger(machine)): Promise<StopEvent & { lines: number }> {
  const tracer = new Tracer(dbg, opts);
  tracer.attach();
  let ev: StopEvent;
  try {
    for (;;) {
      ev = await dbg.contAsync(opts.maxInstructions ?? Infinity);
      // Breakpoints set by the caller stop the run too; continue past them when tracing.
      if (ev.reason !== 'breakpoint' && ev.reason !== 'watchpoint') break;
    }
  } finally {
    tracer.detach();
  }
  return { ...ev, lines: tracer.lineCount };
}

/** Parses --trace-range "LO-HI": two hex addresses (0x optional), LO <= HI; null when malformed. */
export function parseTraceRange(s: string): { lo: number; hi: number } | null {
  const m = /^\s*(?:0x)?([0-9a-f]+)\s*-\s*(?:0x)?([0-9a-f]+)\s*$/i.exec(s);
  if (!m) return null;
  const lo = parseInt(m[1], 16), hi = parseInt(m[2], 16);
  if (!(lo <= hi) || hi > 0xffffffff) return null;
  return { lo, hi };
}
