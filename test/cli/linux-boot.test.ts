// The embedded Linux guest (fixtures/linux) booted by the real CLI, driven through
// stdin/stdout like a user at a terminal: reach the shell, type `uname -a`, then
// `poweroff`. Skipped when the fixture is absent.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'ts86.js');
const haveLinux = existsSync(join(ROOT, 'fixtures', 'linux', 'bzImage')) && existsSync(join(ROOT, 'fixtures', 'linux', 'initramfs.cpio.gz'));

describe.skipIf(!haveLinux)('the embedded Linux guest', () => {
  it('`ts86 run` with no kernel boots to a shell; uname -a and poweroff work', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '-m', '128'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const waitFor = (re: RegExp, ms: number): Promise<void> => new Promise((resolve, reject) => {
      const end = Date.now() + ms;
      const poll = (): void => {
        if (re.test(out)) resolve();
        else if (Date.now() > end) reject(new Error(`timed out waiting for ${re}; output so far:\n${out.slice(-2000)}\n${err}`));
        else setTimeout(poll, 50);
      };
      poll();
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    let code: number | null;
    try {
      await waitFor(/ts86-ready/, 180_000);
      await waitFor(/ts86:[^\n]*# /, 60_000); // busybox may append a cursor query (ESC [6n) to the prompt
      child.stdin.write('uname -a\n');
      await waitFor(/Linux ts86 \S+ .* i686/, 60_000);
      child.stdin.write('poweroff\n');
      code = await exited;
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL'); // never leave a guest running after a failure
    }
    expect(out).toMatch(/Linux ts86 6\.1\.\d+/);
    expect(err).toMatch(/session ended normally/);
    expect(code).toBe(0);
  }, 300_000);
});
