// The real CLI (bin/ts86.js) spawned with piped stdio, driven like a user at a terminal:
// wait for output, type a line, wait for the exit. `kill()` in a `finally` makes sure a
// failed test never leaves a guest running.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'ts86.js');

export interface InteractiveCli {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything the process wrote so far. */
  out(): string;
  err(): string;
  /** Resolves once stdout matches `re`; rejects after `ms` with the output so far. */
  waitFor(re: RegExp, ms: number): Promise<void>;
  type(line: string): void;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  kill(): void;
}

export function spawnCli(args: string[]): InteractiveCli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    waitFor: (re, ms) => new Promise((resolve, reject) => {
      const end = Date.now() + ms;
      const poll = (): void => {
        if (re.test(out)) resolve();
        else if (Date.now() > end) reject(new Error(`timed out waiting for ${re}; output so far:\n${out.slice(-2000)}\n${err}`));
        else setTimeout(poll, 50);
      };
      poll();
    }),
    type: (line) => { child.stdin.write(line); },
    exited,
    kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}
