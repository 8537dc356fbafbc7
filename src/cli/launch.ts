// What bin/ts86.js decides before the CLI loads: the size of V8's worker pool.
//
// V8 runs its optimising compiler (TurboFan) and parts of its garbage collector on a pool
// of worker threads, four in Node by default. A Linux boot keeps that pool busy compiling
// the guest's hot code (the Debian boot's post-decompression phase: ~20 s of TurboFan CPU
// on the workers beside ~33 s on the main thread, measured with `perf record`). On a machine
// with few cores, four workers share the cores with the emulator's own thread, which then
// runs only part of the time: on 2 cores that phase took 37-45 s of wall time for 32-35 s
// of main-thread CPU with the default pool, and 34-41 s with a pool of one (wall within a
// second of the main thread's CPU). So `ts86 run` gives V8 one worker per core beside the
// main thread (at least one, at most Node's four); where that is not the pool this process
// has, the CLI runs in a child Node started with --v8-pool-size (a pool is fixed when Node
// starts). The child's exit status and the signals a user sends are passed through.
import { spawn } from 'node:child_process';
import { availableParallelism, constants } from 'node:os';

/** Node's default V8 worker pool (--v8-pool-size). */
const NODE_DEFAULT_POOL = 4;

/** V8 workers for a machine with `cores` cores: the cores beside the main thread, 1 to 4. */
export function v8PoolSize(cores: number): number {
  return Math.max(1, Math.min(NODE_DEFAULT_POOL, Math.floor(cores) - 1));
}

export interface LaunchContext {
  cores: number;
  /** Node's own options of this process (process.execArgv). */
  execArgv: readonly string[];
  /** NODE_OPTIONS. */
  nodeOptions: string | undefined;
  /** The CLI's arguments (process.argv after the script). */
  args: readonly string[];
  /** TS86_V8_POOL: "keep" leaves the pool alone; a number sets it. */
  poolSetting: string | undefined;
}

/**
 * Node options for a child that runs the CLI with the right pool, or null to run it in
 * this process: not `run` (short commands), a pool chosen already (--v8-pool-size given
 * to Node), TS86_V8_POOL=keep, or the default pool is the right one.
 */
export function relaunchOptions(c: LaunchContext): string[] | null {
  const command = c.args.find((a) => !a.startsWith('-'));
  if (command !== 'run') return null;
  if (c.poolSetting === 'keep') return null;
  const given = [...c.execArgv, ...(c.nodeOptions ?? '').split(/\s+/)].some((a) => a.startsWith('--v8-pool-size'));
  if (given) return null;
  const asked = Number(c.poolSetting);
  const pool = c.poolSetting !== undefined && c.poolSetting !== '' && Number.isInteger(asked) && asked >= 1 && asked <= 64 ? asked : v8PoolSize(c.cores);
  if (pool === NODE_DEFAULT_POOL) return null;
  return [...c.execArgv, `--v8-pool-size=${pool}`];
}

/** Signals a user may send to `ts86 run` (see run.ts), passed on to the child. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/**
 * Runs the CLI script in a child Node with the right V8 pool when relaunchOptions says so
 * (true: this process now only waits for the child and exits as it does), else false.
 */
export function relaunchIfNeeded(script: string): boolean {
  const opts = relaunchOptions({
    cores: availableParallelism(), execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS,
    args: process.argv.slice(2), poolSetting: process.env.TS86_V8_POOL,
  });
  if (opts === null) return false;
  // TS86_V8_POOL=keep in the child: it runs the CLI itself whatever its options say.
  // The IPC channel tells the child when this process is gone (even by SIGKILL): it stops then.
  const child = spawn(process.execPath, [...opts, script, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'], env: { ...process.env, TS86_V8_POOL: 'keep', TS86_PARENT_WATCH: '1' },
  });
  const forward = (sig: NodeJS.Signals): void => { if (child.exitCode === null && child.signalCode === null) child.kill(sig); };
  for (const sig of FORWARDED) process.on(sig, forward);
  child.on('error', (e) => {
    process.stderr.write(`ts86: could not start Node for the run (${e.message})\n`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    for (const sig of FORWARDED) process.off(sig, forward);
    if (signal !== null) {
      // Ended by a signal: end the same way (the shell sees 128 + its number).
      process.kill(process.pid, signal);
      // Node ignores some (SIGPIPE): then the status a shell would see.
      setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 100).unref();
      return;
    }
    process.exit(code ?? 1);
  });
  return true;
}

/**
 * In the child (TS86_PARENT_WATCH set by relaunchIfNeeded): when the launcher goes away
 * (its IPC channel closes), stop as on a hangup. The channel does not keep the run alive.
 */
export function watchLauncher(onGone: () => void): void {
  if (process.env.TS86_PARENT_WATCH !== '1' || process.channel === undefined) return;
  process.channel.unref();
  if (!process.connected) { onGone(); return; }
  process.once('disconnect', onGone);
}
