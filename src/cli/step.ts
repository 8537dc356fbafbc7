// `ts86 step [options] [kernel]`: the instruction stepper. Interactive (a full-screen
// TUI) when stdout is a terminal; `--plain` prints one line per instruction; `--trace
// FILE` writes an instruction trace while the guest runs. Parsing and printing only:
// the debugger is src/debug/debugger.ts, the TUI src/debug/tui/.
import { createWriteStream } from 'node:fs';
import { Command, Option } from 'commander';
import { Machine, MachineError } from '../machine/machine';
import { LoaderError } from '../loader/index';
import type { CharBackend } from '../devices/chardev';
import { Debugger, type StopEvent } from '../debug/debugger';
import { parseElfSymbols, SymbolTable } from '../debug/symbols';
import { formatStepLine, insnAt, parseTraceRange, traceRun } from '../debug/trace';
import { runTui } from '../debug/tui/app';
import { parseAddress } from './disasm';
import { defaultMemMiB, parseMem, readGuestFiles, readInput } from './run';
import { UserError } from './errors';

export interface StepOpts {
  kernel?: string; initrd?: string; params?: string; mem?: string; bits?: string; flatAddr?: string; org?: string;
  vmlinux?: string; plain?: boolean; count?: string; trace?: string; traceRange?: string; traceMax?: string; until?: string;
  break?: string[];
}

/** A count: a positive integer. */
function parseCount(s: string, flag: string): number {
  if (!/^\d+$/.test(s.trim()) || Number(s) < 1) throw new UserError(`${flag} ${s}: must be a positive integer`);
  return Number(s);
}

/** Guest console output for the non-interactive modes: stderr (stdout carries the trace). */
class StderrConsole implements CharBackend {
  write(d: Uint8Array): void { process.stderr.write(d); }
  setReceiver(): void {}
}

/** Console output kept for the TUI's console panel (the last lines). */
export class TailConsole implements CharBackend {
  private text = '';
  write(d: Uint8Array): void {
    this.text += String.fromCharCode(...d);
    if (this.text.length > 16384) this.text = this.text.slice(-8192);
  }
  setReceiver(): void {}
  /** The last `n` lines (control characters other than newline dropped). */
  lastLines(n: number): string[] {
    // eslint-disable-next-line no-control-regex
    const lines = this.text.replace(/\r/g, '').replace(/[\x00-\x09\x0b-\x1f\x7f]/g, '').split('\n');
    return lines.slice(-n);
  }
}

/** Builds the machine (the subset of `ts86 run` a stepper needs) and the symbol table. */
export function buildStepMachine(kernelArg: string | undefined, o: StepOpts, serial: CharBackend): { machine: Machine; symbols: SymbolTable | null; kernelPath: string } {
  const memMiB = o.mem !== undefined ? parseMem(o.mem) : Math.max(64, Math.min(128, defaultMemMiB(1)));
  if (memMiB < 64) throw new UserError(`-m ${o.mem}: at least 64 MiB of guest RAM is needed`);
  const { kernelPath, kernel, initrds } = readGuestFiles(o.kernel ?? kernelArg, o.initrd);
  if (o.flatAddr !== undefined && o.org !== undefined && o.flatAddr !== o.org) throw new UserError('--org and --flat-addr name the same thing: give one');
  const flatAddr = parseAddress(o.org ?? o.flatAddr ?? '0x100000', o.org !== undefined ? '--org' : '--flat-addr');
  if (o.bits !== undefined && o.bits !== '16' && o.bits !== '32') throw new UserError(`--bits must be 16 or 32, not '${o.bits}'`);
  let machine: Machine;
  try {
    // A virtual clock: timers advance with executed instructions, so a guest that is
    // being stepped sees the same time as one that runs (and runs are repeatable).
    machine = new Machine({
      memMiB, kernel: { path: kernelPath, image: kernel }, initrds, params: o.params ?? '',
      serial, deterministic: true, flatAddr, flatBits: o.bits === '16' ? 16 : 32,
    });
  } catch (e) {
    if (e instanceof LoaderError) throw new UserError(`${kernelPath}: ${e.message}`);
    if (e instanceof MachineError) throw new UserError(e.message);
    throw e;
  }
  let symbols: SymbolTable | null = null;
  if (o.vmlinux) symbols = parseElfSymbols(readInput(o.vmlinux, '--vmlinux'));
  else {
    const t = parseElfSymbols(kernel);
    if (t.size) symbols = t;
  }
  return { machine, symbols, kernelPath };
}

/** An address given on the command line: hex/decimal, or a symbol name. */
function parseAddrOrSymbol(s: string, flag: string, symbols: SymbolTable | null): number {
  const v = symbols?.resolve(s);
  if (v !== undefined) return v;
  return parseAddress(s, flag);
}

function exitStatusOf(ev: StopEvent): number {
  return ev.reason === 'exited' && ev.outcome ? ev.outcome.exitStatus : 0;
}

function stopNote(ev: StopEvent, executed: number): string {
  const where = `linear ${ev.linear.toString(16).padStart(8, '0')}`;
  if (ev.reason === 'exited' && ev.outcome) return `# ${executed} instructions; the guest ended: ${ev.outcome.message} (exit status ${ev.outcome.exitStatus})`;
  return `# ${executed} instructions; stopped (${ev.reason}) at ${where}`;
}

/**
 * `--plain`: one line per instruction on `out` (formatStepLine), at most `count`
 * instructions, until the guest ends. Returns the last stop and the number of lines.
 */
export function plainStep(dbg: Debugger, count: number, out: (line: string) => void, symbols: SymbolTable | null = null): { ev: StopEvent; executed: number } {
  let ev: StopEvent = { reason: 'step', eip: dbg.cpu.eip, linear: dbg.linearOfEip() };
  let executed = 0;
  while (executed < count) {
    const insn = insnAt(dbg);
    const before = dbg.regs();
    const i0 = dbg.cpu.icount;
    ev = dbg.step(1);
    if (dbg.cpu.icount === i0) break; // nothing executed: the guest had ended, or a stop was requested
    out(formatStepLine(insn, before, dbg.regs(), symbols));
    executed++;
    if (ev.reason === 'exited') break;
  }
  return { ev, executed };
}

async function stepCommand(kernelArg: string | undefined, o: StepOpts): Promise<number> {
  const interactive = !o.plain && !o.trace && process.stdout.isTTY === true && process.stdin.isTTY === true;
  const tail = new TailConsole();
  const { machine, symbols } = buildStepMachine(kernelArg, o, interactive ? tail : new StderrConsole());
  const dbg = new Debugger(machine);
  const count = o.count !== undefined ? parseCount(o.count, '--count') : Infinity;
  let interrupted = false;
  const onInt = (): void => { interrupted = true; dbg.requestStop(); };
  process.on('SIGINT', onInt);
  try {
    for (const b of o.break ?? []) dbg.addBreakpoint(parseAddrOrSymbol(b, '--break', symbols));
    if (o.until !== undefined) {
      const ev = await dbg.runToAsync(parseAddrOrSymbol(o.until, '--until', symbols));
      if (ev.reason === 'exited') {
        process.stderr.write(`${stopNote(ev, 0)} before reaching --until ${o.until}\n`);
        return exitStatusOf(ev);
      }
    }
    if (o.trace) {
      const range = o.traceRange !== undefined ? parseTraceRange(o.traceRange) : undefined;
      if (range === null) throw new UserError(`--trace-range ${o.traceRange}: use LO-HI (hex addresses, LO <= HI)`);
      const maxLines = o.traceMax !== undefined ? parseCount(o.traceMax, '--trace-max') : undefined;
      const file = o.trace === '-' ? null : createWriteStream(o.trace);
      const write = file ? (l: string) => { file.write(`${l}\n`); } : (l: string) => { process.stdout.write(`${l}\n`); };
      const ev = await traceRun(machine, { out: write, range, maxLines, maxInstructions: count, symbols }, dbg);
      if (file) await new Promise<void>((res, rej) => file.end((e?: Error | null) => (e ? rej(e) : res())));
      process.stderr.write(`${stopNote(ev, machine.cpu.icount)}; ${ev.lines} trace lines${o.trace === '-' ? '' : ` in ${o.trace}`}\n`);
      return interrupted ? 130 : exitStatusOf(ev);
    }
    if (!interactive) {
      // `ts86 step --plain | head` closes the pipe early: the reader's choice, not an error.
      process.stdout.once('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
      let buf: string[] = [];
      const out = (l: string): void => {
        buf.push(l);
        if (buf.length >= 256) { process.stdout.write(buf.join('\n') + '\n'); buf = []; }
      };
      // In chunks, yielding in between, so that Ctrl-C (SIGINT) is seen.
      let left = count, executed = 0;
      let ev: StopEvent = { reason: 'step', eip: dbg.cpu.eip, linear: dbg.linearOfEip() };
      while (left > 0 && !interrupted) {
        const chunk = Math.min(left, 4096);
        const r = plainStep(dbg, chunk, out, symbols);
        ev = r.ev;
        executed += r.executed;
        left -= chunk;
        if (r.executed < chunk || ev.reason === 'exited') break;
        await new Promise<void>((res) => setImmediate(res));
      }
      if (interrupted) ev = { reason: 'requested', eip: dbg.cpu.eip, linear: dbg.linearOfEip() };
      if (buf.length) process.stdout.write(buf.join('\n') + '\n');
      process.stderr.write(`${stopNote(ev, executed)}\n`);
      return interrupted ? 130 : exitStatusOf(ev);
    }
    return await runTui(dbg, { symbols, console: tail });
  } finally {
    process.off('SIGINT', onInt);
    machine.close();
  }
}

/** `ts86 step`. */
export function registerStepCommand(program: Command): void {
  program
    .command('step')
    .description('step through a guest one instruction at a time: a full-screen debugger on a terminal, or --plain / --trace output')
    .argument('[kernel]', 'kernel image (same as -k)')
    .option('-k, --kernel <file>', 'kernel image (bzImage, multiboot ELF, ELF, or a flat binary)')
    .option('-i, --initrd <files>', 'initrd; for multiboot, modules separated by commas ("file args,file2")')
    .option('-p, --params <params>', 'kernel parameters, appended to the defaults')
    .option('-m, --mem <size>', 'guest RAM in MiB (K/M/G suffixes accepted); default 128')
    .addOption(new Option('--bits <n>', 'entry mode for flat binaries').choices(['16', '32']).default('32'))
    .option('--flat-addr <addr>', 'load address for flat binaries (default 0x100000)')
    .option('--org <addr>', 'same as --flat-addr')
    .option('--vmlinux <file>', 'ELF file whose symbol table names addresses (default: the kernel\'s own, when it is an ELF)')
    .option('--plain', 'print one line per instruction to stdout instead of the full-screen interface')
    .option('--count <n>', 'stop after N instructions (--plain, --trace)')
    .option('--until <addr>', 'first run at full speed until EIP reaches ADDR (linear address or symbol)')
    .option('-b, --break <addr>', 'breakpoint at a linear address or symbol (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--trace <file>', 'run the guest, writing an instruction trace to FILE ("-": stdout)')
    .option('--trace-range <lo-hi>', 'trace only instructions at linear addresses LO..HI (hex)')
    .option('--trace-max <n>', 'at most N trace lines (the guest then runs on at full speed)')
    .action(async (kernelArg: string | undefined, o: StepOpts) => {
      process.exitCode = await stepCommand(kernelArg, o);
    });
}
