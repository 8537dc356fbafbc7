// The launcher's V8 worker pool (src/cli/launch.ts): when `ts86 run` starts a child Node
// with --v8-pool-size, and that the child behaves as the CLI itself would: status,
// signals, and a launcher killed outright.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relaunchOptions, v8PoolSize, type LaunchContext } from '../../src/cli/launch';

const BIN = join(__dirname, '..', '..', 'bin', 'ts86.js');
const base: LaunchContext = { cores: 2, execArgv: [], nodeOptions: undefined, args: ['run', '-k', 'x'], poolSetting: undefined };

describe('the V8 worker pool of ts86 run', () => {
  it('is one worker per core beside the main thread, 1 to 4', () => {
    expect([1, 2, 3, 4, 5, 8, 64].map(v8PoolSize)).toEqual([1, 1, 2, 3, 4, 4, 4]);
  });

  it('relaunches `run` only where the pool would differ from Node\'s 4 and nobody chose one', () => {
    expect(relaunchOptions(base)).toEqual(['--v8-pool-size=1']);
    expect(relaunchOptions({ ...base, cores: 4 })).toEqual(['--v8-pool-size=3']);
    expect(relaunchOptions({ ...base, cores: 16 })).toBeNull(); // the default pool is right
    expect(relaunchOptions({ ...base, args: ['disasm', 'x.bin'] })).toBeNull(); // short commands run here
    expect(relaunchOptions({ ...base, args: ['--help'] })).toBeNull();
    expect(relaunchOptions({ ...base, execArgv: ['--v8-pool-size=2'] })).toBeNull();
    expect(relaunchOptions({ ...base, nodeOptions: '--max-old-space-size=4096 --v8-pool-size=3' })).toBeNull();
    expect(relaunchOptions({ ...base, poolSetting: 'keep' })).toBeNull();
    // Node's own options go to the child too; TS86_V8_POOL=N asks for N.
    expect(relaunchOptions({ ...base, execArgv: ['--enable-source-maps'] })).toEqual(['--enable-source-maps', '--v8-pool-size=1']);
    expect(relaunchOptions({ ...base, cores: 16, poolSetting: '2' })).toEqual(['--v8-pool-size=2']);
    expect(relaunchOptions({ ...base, cores: 16, poolSetting: 'lots' })).toBeNull();
  });

  it('runs the guest in a child Node with the pool, with the exit status of the run', () => {
    const r = spawnSync(process.execPath, [BIN, 'run', '-k', 'fixtures/multiboot/mbtest.elf', '-m', '64'], {
      encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS86_V8_POOL: '1' },
    });
    expect(r.stdout).toContain('mbtest: all checks passed');
    expect(r.status).toBe((0x10 << 1) | 1);
  });

  it('passes signals to the child, and the child stops when the launcher is killed outright (SIGKILL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts86-launch-'));
    writeFileSync(join(dir, 'spin.bin'), Uint8Array.from([0x90, 0xeb, 0xfd])); // nop; jmp back
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    /** Running, as opposed to gone or a zombie: an orphan's exit is reaped by whatever the
     *  sandbox's pid 1 is, and one that never reaps would leave a zombie that kill(pid, 0)
     *  still finds. */
    const alive = (pid: number): boolean => {
      let stat: string;
      try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return false; }
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    };
    /** The launcher's child: the process whose parent it is. */
    const childOf = (pid: number): number | undefined => {
      const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
      const p = Number(r.stdout.trim().split(/\s+/)[0]);
      return Number.isInteger(p) && p > 0 ? p : undefined;
    };
    const start = () => {
      const p = spawn(process.execPath, [BIN, 'run', '-k', join(dir, 'spin.bin'), '-m', '64'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS86_V8_POOL: '1' } });
      const out = { err: '' };
      p.stderr.on('data', (d: Buffer) => { out.err += d.toString(); });
      const exited = new Promise<[number | null, string | null]>((res) => p.on('exit', (c, s) => res([c, s])));
      return { p, out, exited };
    };
    const until = async (f: () => boolean) => { for (let k = 0; k < 200 && !f(); k++) await sleep(50); };
    let inner: number | undefined;
    const a = start(), b = start();
    try {
      // SIGUSR2 and SIGINT to the launcher reach the run (run.test.ts has the CLI's own behaviour).
      await until(() => /# ts86 run/.test(a.out.err));
      inner = childOf(a.p.pid!);
      expect(inner).toBeDefined();
      expect(readFileSync(`/proc/${inner}/cmdline`, 'utf8').split('\0')).toContain('--v8-pool-size=1');
      a.p.kill('SIGUSR2');
      await until(() => /guest paused/.test(a.out.err));
      a.p.kill('SIGINT');
      expect(await a.exited).toEqual([130, null]);
      expect(a.out.err).toMatch(/guest paused/);
      // SIGKILL cannot be passed on: the child sees the launcher's IPC channel close and stops.
      await until(() => /# ts86 run/.test(b.out.err));
      inner = childOf(b.p.pid!);
      expect(inner).toBeDefined();
      b.p.kill('SIGKILL');
      expect(await b.exited).toEqual([null, 'SIGKILL']);
      await until(() => !alive(inner!));
      expect(alive(inner!)).toBe(false);
    } finally {
      for (const x of [a.p, b.p]) if (x.exitCode === null && x.signalCode === null) x.kill('SIGKILL');
      if (inner !== undefined && alive(inner)) process.kill(inner, 'SIGKILL'); // never leave a guest spinning
    }
  }, 30_000);
});
