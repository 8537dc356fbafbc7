// `ts86 run`: modelled on kvmtool's `lkvm run`. Parsing and printing only; the
// emulation is the Machine's.
import { Command, Option } from 'commander';
import { existsSync, readFileSync, statSync, accessSync, constants as fsc } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import chalk from 'chalk';
import { EXIT_STDOUT_CLOSED, Machine, MachineError, type RunOutcome } from '../machine/machine';
import { LoaderError } from '../loader/index';
import { UserError } from './errors';
import { StdioConsole } from './stdio-console';
import { runWithGdb, parseGdbDevice } from '../debug/gdbstub';
import { parseTraceRange, traceRun } from '../debug/trace';
import { createWriteStream } from 'node:fs';
import { chooseAccel } from './accel-choice';
import { DEFAULT_IPS } from '../machine/machine';
import { SnapshotError } from '../machine/snapshot-format';
import { checkDeterminismOpts, installDeterminism, parseRtcBase, parseSeed, readSerialScript, type DeterminismOpts } from './run-determinism';
import { watchLauncher } from './launch';

/** Parses -m: MiB by default, or with a K/M/G suffix. */
export function parseMem(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG])?[bB]?$/.exec(v.trim());
  if (!m) throw new UserError(`-m ${v}: not a memory size (use MiB, or a K/M/G suffix: 512, 512M, 1G)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'M').toUpperCase();
  const mib = unit === 'K' ? n / 1024 : unit === 'G' ? n * 1024 : n;
  return Math.floor(mib);
}

/** kvmtool's default: 64 MiB per vCPU plus 192 MiB, capped at 80% of host RAM. */
export function defaultMemMiB(cpus: number): number {
  return Math.min(64 * (cpus + 3), Math.floor((totalmem() / 1048576) * 0.8));
}

/** The embedded default guest (fixtures/linux), found next to the installed package. */
export function embeddedGuest(): { kernel: string; initrd: string } | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const root of [join(here, '..'), join(here, '..', '..'), process.cwd()]) {
    const k = join(root, 'fixtures', 'linux', 'bzImage'), i = join(root, 'fixtures', 'linux', 'initramfs.cpio.gz');
    if (existsSync(k) && existsSync(i)) return { kernel: k, initrd: i };
  }
  return null;
}

/** Reads a user-named input file; one clear UserError when it is missing or unreadable. */
export function readInput(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new UserError(`${what} ${path}: no such file`);
  const st = statSync(path);
  if (!st.isFile()) throw new UserError(`${what} ${path}: not a regular file`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UserError(`${what} ${path}: ${(e as Error).message}`);
  }
}

/** A guest's files as the user named them: -k/the first argument (or the embedded guest) and -i. */
export interface GuestFiles {
  kernelPath: string;
  kernel: Uint8Array;
  initrds: { path: string; args: string; data: Uint8Array }[];
}

/**
 * Reads the kernel (or the embedded guest when none is named) and the initrd list
 * ("file args,file2 args", the multiboot module syntax), with one clear error per problem.
 */
export function readGuestFiles(kernelArg: string | undefined, initrdArg: string | undefined): GuestFiles {
  let kernelPath: string, initrdSpec = initrdArg;
  if (kernelArg) kernelPath = resolve(kernelArg);
  else {
    const g = embeddedGuest();
    if (!g) throw new UserError('no kernel given and the embedded guest (fixtures/linux) is missing; pass -k KERNEL');
    kernelPath = g.kernel;
    initrdSpec ??= g.initrd;
  }
  const kernel = readInput(kernelPath, 'kernel');
  const initrds = (initrdSpec ? initrdSpec.split(',') : []).filter(Boolean).map((entry) => {
    const [file, ...args] = entry.trim().split(/\s+/);
    return { path: file, args: args.join(' '), data: readInput(file, 'initrd') };
  });
  return { kernelPath, kernel, initrds };
}

interface RunOpts {
  name?: string; cpus: string; mem?: string; kernel?: string; initrd?: string; params?: string; disk: string[];
  console: string; accel: string; irqchip: string; debug?: boolean; debugIoport?: boolean; debugSingleStep?: boolean; stats?: boolean;
  trace?: string; traceRange?: string; traceMax?: string;
  deterministic?: boolean; ips?: string; flatAddr?: string; bits?: string; dumpPagetables?: string[];
  gdb?: string; s?: boolean; S?: boolean; rng?: boolean;
}
type RunOptsAll = RunOpts & DeterminismOpts;

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('boot a kernel (bzImage, multiboot ELF, ELF, or flat binary); with none, the embedded Linux guest')
    .argument('[kernel]', 'kernel image (same as -k)')
    .option('--name <name>', 'a name for the guest')
    .option('-c, --cpus <n>', 'number of vCPUs', '1')
    .option('-m, --mem <size>', 'guest RAM in MiB (K/M/G suffixes accepted); default 64*(cpus+3) MiB, at most 80% of host RAM')
    .option('-k, --kernel <file>', 'kernel image')
    .option('-i, --initrd <files>', 'initrd; for multiboot, modules separated by commas ("file args,file2")')
    .option('-p, --params <params>', 'kernel parameters, appended to the defaults')
    .option('-d, --disk <image[,ro]>', 'disk image (repeatable; up to 4)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(new Option('--console <kind>', 'guest console: serial (ttyS0) or virtio (hvc0; the kernel gets console=hvc0)').choices(['serial', 'virtio']).default('serial'))
    .option('--rng', 'a virtio-rng device (host randomness; the seeded machine PRNG with --deterministic or --seed)')
    .addOption(new Option('--accel <kind>', 'CPU backend').choices(['auto', 'kvm', 'interp']).default('auto'))
    .addOption(new Option('--irqchip <where>', 'with KVM: PIC/APIC/PIT in TypeScript (user) or in the kernel').choices(['user', 'kernel']).default('user'))
    .option('--debug', 'print loader and platform details, POST codes')
    .option('--debug-ioport', 'trace every port access to stderr')
    .option('--debug-single-step', 'trace every instruction (CS:EIP) to stderr')
    .option('--stats', 'print TLB, reverse-map, code-cache and event-loop counters at exit')
    .option('--dump-pagetables [addr]', 'at exit, print the page-table walk of ADDR (repeatable; default EIP) and the mapped ranges', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--trace <file>', 'write an instruction trace (address, bytes, disassembly, changed registers) to FILE ("-": stderr)')
    .option('--trace-range <lo-hi>', 'trace only instructions at linear addresses LO..HI (hex)')
    .option('--trace-max <n>', 'at most N trace lines (default 1000000); the guest then runs on at full speed')
    .option('--deterministic', 'virtual clock from executed instructions; same input, same run')
    .option('--ips <n>', 'nominal instructions per second of the virtual clock', String(DEFAULT_IPS))
    .option('--rtc-base <time>', 'RTC time at boot: Unix seconds or ISO 8601 (default: host time; 2000-01-01 with --deterministic)')
    .option('--seed <n>', 'seed of the machine PRNG device models use (default 0 with --deterministic, else random)')
    .option('--trace-hash <n>', 'print a state hash every N instructions (N:cpu leaves RAM out: cheaper)')
    .option('--state-hash', 'print the full state hash (RAM, CPU, devices) at exit')
    .option('--snapshot-out <file>', 'write a snapshot to FILE at exit, or on --snapshot-on / Ctrl-A s')
    .option('--snapshot-on <trigger>', 'when to write the snapshot: marker:TEXT (serial output) or icount:N')
    .option('--restore <file>', 'continue from a snapshot (it fixes kernel, memory, command line and clock)')
    .option('--serial-script <file>', 'drive the console: expect "text", send "text\\n", wait 2s, at 10s, timeout 30s')
    .option('--flat-addr <addr>', 'load address for flat binaries', '0x100000')
    .addOption(new Option('--bits <n>', 'entry mode for flat binaries').choices(['16', '32']).default('32'))
    .option('--gdb <dev>', 'serve the gdb remote protocol on DEV: tcp::PORT or tcp:HOST:PORT')
    .option('-s', 'shorthand for --gdb tcp::1234')
    .option('-S', 'with --gdb/-s: do not run the first instruction until gdb continues')
    .action(async (kernelArg: string | undefined, o: RunOptsAll) => {
      const code = await runCommand(kernelArg, o);
      process.exitCode = code;
    });
}

async function runCommand(kernelArg: string | undefined, o: RunOptsAll): Promise<number> {
  const cpus = Number(o.cpus);
  if (!Number.isInteger(cpus) || cpus < 1) throw new UserError(`-c ${o.cpus}: the number of vCPUs must be a positive integer`);
  const memMiB = o.mem !== undefined ? parseMem(o.mem) : defaultMemMiB(cpus);
  if (memMiB < 64) throw new UserError(`-m ${o.mem}: at least 64 MiB of guest RAM is needed`);
  if (o.S && o.gdb === undefined && !o.s) throw new UserError('-S waits for gdb: give --gdb tcp::PORT or -s too');
  if (o.gdb !== undefined && !parseGdbDevice(o.gdb)) throw new UserError(`--gdb ${o.gdb}: not a gdb device (use tcp::PORT or tcp:HOST:PORT)`);
  if (o.disk.length > 4) throw new UserError(`${o.disk.length} disks given: at most 4`);
  for (const d of o.disk) {
    const [path, ...flags] = d.split(',');
    for (const f of flags) if (f !== 'ro') throw new UserError(`-d ${d}: unknown disk option "${f}" (only ",ro")`);
    if (!existsSync(path)) throw new UserError(`-d ${path}: no such file`);
    try { accessSync(path, flags.includes('ro') ? fsc.R_OK : fsc.R_OK | fsc.W_OK); } catch { throw new UserError(`-d ${path}: cannot open it ${flags.includes('ro') ? 'for reading' : 'for reading and writing'}`); }
  }
  checkDeterminismOpts(o);
  if (o.restore && (o.kernel || kernelArg || o.initrd || o.params || o.mem)) throw new UserError('--restore: the snapshot fixes the kernel, initrd, command line and memory; drop -k/-i/-p/-m');
  const rtcEpochSeconds = o.rtcBase !== undefined ? parseRtcBase(o.rtcBase) : undefined;
  const seed = o.seed !== undefined ? parseSeed(o.seed) : undefined;
  if (o.serialScript) readSerialScript(o.serialScript); // a missing script is an error before the banner
  const restoreBytes = o.restore ? readInput(o.restore, 'snapshot') : null;
  const { kernelPath, kernel, initrds } = restoreBytes ? { kernelPath: o.restore!, kernel: new Uint8Array(0), initrds: [] } : readGuestFiles(o.kernel ?? kernelArg, o.initrd);
  const name = o.name ?? `guest-${process.pid}`;
  const flatAddr = Number(o.flatAddr);
  if (!Number.isInteger(flatAddr) || flatAddr < 0) throw new UserError(`--flat-addr ${o.flatAddr}: not an address`);
  const ips = Number(o.ips);
  if (!(ips > 0)) throw new UserError(`--ips ${o.ips}: must be a positive number`);

  // Options built on the interpreter's instruction count or its complete CPU state.
  const interpOnly = [
    o.gdb !== undefined || o.s ? '--gdb' : '', o.trace !== undefined ? '--trace' : '', o.deterministic ? '--deterministic' : '',
    o.traceHash !== undefined ? '--trace-hash' : '', o.stateHash ? '--state-hash' : '', o.snapshotOut !== undefined ? '--snapshot-out' : '', o.restore !== undefined ? '--restore' : '',
  ].filter(Boolean);
  const accel = chooseAccel({ accel: o.accel, irqchip: o.irqchip, interpOnly });

  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let snapshotNow = (): void => {};
  const consoleOut = new StdioConsole({ interactive, onQuit: () => machine?.stop('quit from the console (Ctrl-A x)'), onHelp: (t) => process.stderr.write(t), onSnapshot: () => snapshotNow(),
    onClosed: () => machine?.stopWith({ reason: 'stopped', exitStatus: EXIT_STDOUT_CLOSED, message: 'stdout was closed (its reader went away)' }) });
  let machine: Machine | undefined;
  // virtio devices: also given to a restore, which needs the same device set as the snapshot.
  const virtioOpts = {
    console: o.console === 'virtio' ? 'virtio' as const : 'serial' as const, rng: o.rng === true,
    disks: o.disk.map((d) => { const [path, ...flags] = d.split(','); return { path, readOnly: flags.includes('ro') }; }),
    onDeviceError: (msg: string) => process.stderr.write(chalk.red(`\n  # ${msg}\n`)),
  };
  try {
    if (restoreBytes) machine = Machine.fromSnapshot(restoreBytes, { serial: consoleOut, debugIoport: o.debugIoport ? (l) => process.stderr.write(`${l}\n`) : undefined, ...virtioOpts });
    else machine = new Machine({
      name, memMiB, cpus, kernel: { path: kernelPath, image: kernel }, initrds, params: o.params ?? '',
      serial: consoleOut, deterministic: o.deterministic, ips, flatAddr, flatBits: o.bits === '16' ? 16 : 32, rtcEpochSeconds, seed,
      ...virtioOpts,
      debugIoport: o.debugIoport ? (l) => process.stderr.write(`${l}\n`) : undefined,
      accel: accel.accel, irqchip: o.irqchip === 'kernel' ? 'kernel' : 'user',
    });
  } catch (e) {
    if (e instanceof LoaderError) throw new UserError(`${kernelPath}: ${e.message}`);
    if (e instanceof MachineError) throw new UserError(e.message);
    if (e instanceof SnapshotError) throw new UserError(`--restore ${o.restore}: ${e.message}`);
    throw e;
  }
  const m = machine;
  const accelNote = accel.note;
  const traceRange = o.traceRange !== undefined ? parseTraceRange(o.traceRange) : undefined;
  if (traceRange === null) throw new UserError(`--trace-range ${o.traceRange}: use LO-HI (hex addresses, LO <= HI)`);
  const traceMax = o.traceMax !== undefined ? Number(o.traceMax) : 1_000_000;
  if (!Number.isInteger(traceMax) || traceMax < 1) throw new UserError(`--trace-max ${o.traceMax}: a positive number of lines`);
  const det = installDeterminism(m, o, (l) => process.stderr.write(chalk.dim(`  # ${l}\n`)));
  snapshotNow = det.snapshotNow;
  const onQuit = (): void => { process.stderr.write(`\n${m.dump()}\n`); };
  const onUsr2 = (): void => { if (m.isPaused) m.resume(); else m.pause(); process.stderr.write(chalk.dim(`\n  # guest ${m.isPaused ? 'paused' : 'resumed'}\n`)); };
  const onInt = (): void => m.stop('interrupted (SIGINT)');
  process.on('SIGQUIT', onQuit);
  process.on('SIGUSR2', onUsr2);
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  // Run by the launcher in a child Node (launch.ts): its end is a hangup.
  watchLauncher(() => m.stop('the ts86 launcher went away'));
  // The banner comes once the signal handlers are in place: it tells a watcher (or a test) the run is live.
  if (restoreBytes) process.stderr.write(chalk.dim(`  # ${m.loaded.describe} (${o.restore}) at instruction ${m.cpu.icount}${m.config.deterministic ? ' (deterministic)' : ''}\n`));
  else process.stderr.write(chalk.dim(`  # ts86 run -k ${kernelPath}${initrds.length ? ` -i ${initrds.map((x) => x.path).join(',')}` : ''} -m ${memMiB} -c ${cpus} --name ${name} [accel: ${accelNote}]\n`));
  if (o.debug) {
    process.stderr.write(chalk.dim(`  # loaded ${m.loaded.describe}\n  # command line: ${m.cmdline}\n`));
    m.platform.post.onCode = (v: number) => process.stderr.write(chalk.dim(`  # POST 0x${v.toString(16).padStart(2, '0')}\n`));
  }
  if (o.debugSingleStep) m.traceStep = (cpu) => process.stderr.write(`${cpu.segSel[1].toString(16).padStart(4, '0')}:${cpu.eip.toString(16).padStart(8, '0')}\n`);

  consoleOut.attach(m.aio);
  let outcome: RunOutcome;
  try {
    if (o.trace !== undefined) {
      const file = o.trace === '-' ? null : createWriteStream(o.trace);
      const write = file ? (l: string) => { file.write(`${l}\n`); } : (l: string) => { process.stderr.write(`${l}\n`); };
      const ev = await traceRun(m, { out: write, range: traceRange, maxLines: traceMax });
      if (file) await new Promise<void>((res, rej) => file.end((e?: Error | null) => (e ? rej(e) : res())));
      outcome = ev.outcome ?? { reason: 'stopped', exitStatus: 130, message: `trace stopped (${ev.reason})`, instructions: m.cpu.icount };
    } else outcome = o.gdb !== undefined || o.s
      ? await runWithGdb(m, { dev: o.gdb ?? 'tcp::1234', waitForDebugger: o.S === true, log: (l) => process.stderr.write(chalk.dim(`  # ${l}\n`)), userError: (msg) => new UserError(msg) })
      : await m.run();
  } finally {
    consoleOut.detach();
    process.off('SIGQUIT', onQuit);
    process.off('SIGUSR2', onUsr2);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onInt);
    m.close();
  }
  const normal = outcome.reason === 'poweroff' || outcome.reason === 'reboot' || outcome.reason === 'debug-exit';
  process.stderr.write(normal ? chalk.dim(`\n  # ts86 session ended normally (${outcome.message}; exit status ${outcome.exitStatus}).\n`) : chalk.red(`\n  # ts86 session ended: ${outcome.message} (exit status ${outcome.exitStatus})\n`));
  if (o.dumpPagetables) {
    // `--dump-pagetables` alone gives `true`; with addresses, a list.
    const lins = (Array.isArray(o.dumpPagetables) ? o.dumpPagetables : []).filter((a) => typeof a === 'string').map((a) => Number(a));
    if (lins.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new UserError(`--dump-pagetables ${o.dumpPagetables.join(',')}: not a linear address`);
    process.stderr.write(`${m.dumpPageTables(lins.length ? lins : [(m.cpu.segBase[1] + m.cpu.eip) >>> 0])}\n`);
  }
  det.atExit();
  if (o.stats) process.stderr.write(`${JSON.stringify({ ...m.stats(), stateHash: m.stateHash() }, null, 2)}\n`);
  return outcome.exitStatus;
}

