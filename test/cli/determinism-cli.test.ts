// `ts86 run` deterministic-run options end to end, on the small APIC/RTC platform
// kernel (timers, interrupts, serial): --state-hash, --trace-hash, --snapshot-on/
// --snapshot-out/--restore, --rtc-base/--seed checks, --serial-script failures, and
// clear user errors for bad snapshot files.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(__dirname, '..', '..', 'bin', 'ts86.js');
const K = ['-k', 'fixtures/platform/apic-kernel.bin', '--flat-addr', '0x100000', '-m', '64', '--deterministic'];

function ts86(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'run', ...args], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const hashOf = (s: string): string => /state-hash ([0-9a-f]{64}) icount=(\d+)/.exec(s)?.slice(1).join(' ') ?? 'none';
const traceLines = (s: string): string[] => s.split('\n').filter((l) => l.includes('trace-hash icount='));

describe('ts86 run: deterministic options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts86-det-'));

  it('--state-hash and --trace-hash are identical across runs', () => {
    const a = ts86([...K, '--state-hash', '--trace-hash', '1000']);
    const b = ts86([...K, '--state-hash', '--trace-hash', '1000']);
    expect(a.status).toBe(0x43);
    expect(hashOf(a.stderr)).toMatch(/^[0-9a-f]{64} \d+$/);
    expect(hashOf(b.stderr)).toBe(hashOf(a.stderr));
    expect(traceLines(a.stderr).length).toBeGreaterThanOrEqual(5);
    expect(traceLines(a.stderr).map((l) => l.trim())).toEqual(traceLines(b.stderr).map((l) => l.trim()));
    // A different seed changes the machine state (the PRNG is part of it), not the guest's run.
    const c = ts86([...K, '--state-hash', '--seed', '7']);
    expect(c.stdout).toBe(a.stdout);
    expect(hashOf(c.stderr)).not.toBe(hashOf(a.stderr));
  });

  it('--snapshot-on icount:N then --restore continues to the same end', () => {
    const snap = join(dir, 'mid.snap');
    const a = ts86([...K, '--state-hash', '--snapshot-on', 'icount:2500', '--snapshot-out', snap]);
    expect(a.stderr).toMatch(/snapshot \(icount:2500\) written to .* at instruction 2500/);
    const r = ts86(['--restore', snap, '--state-hash']);
    expect(r.stderr).toMatch(/restored snapshot of .* at instruction 2500 \(deterministic\)/);
    expect(r.status).toBe(a.status);
    expect(r.stdout).toBe(a.stdout);
    expect(hashOf(r.stderr)).toBe(hashOf(a.stderr));
  });

  it('--snapshot-on marker:TEXT snapshots when the console shows TEXT', () => {
    const snap = join(dir, 'marker.snap');
    const a = ts86([...K, '--state-hash', '--snapshot-on', 'marker:ipi 1', '--snapshot-out', snap]);
    expect(a.stderr).toMatch(/snapshot \(marker "ipi 1"\) written/);
    const r = ts86(['--restore', snap, '--state-hash']);
    expect(a.stdout.endsWith(r.stdout)).toBe(true);
    expect(hashOf(r.stderr)).toBe(hashOf(a.stderr));
  });

  it('rejects corrupt, truncated and foreign snapshot files with one clear line (exit 2)', () => {
    const good = join(dir, 'good.snap');
    ts86([...K, '--snapshot-out', good]);
    const bytes = readFileSync(good);
    const corrupt = Buffer.from(bytes); corrupt[100] ^= 0xff;
    writeFileSync(join(dir, 'corrupt.snap'), corrupt);
    writeFileSync(join(dir, 'short.snap'), bytes.subarray(0, bytes.length - 100));
    writeFileSync(join(dir, 'other.snap'), 'hello, world');
    const cases: [string, RegExp][] = [
      ['corrupt.snap', /corrupt: the SHA-256 checksum does not match/],
      ['short.snap', new RegExp(`truncated: the file has ${bytes.length - 100} bytes, its header says ${bytes.length}`)],
      ['other.snap', /not a ts86 snapshot/],
      ['missing.snap', /no such file/],
    ];
    for (const [f, re] of cases) {
      const r = ts86(['--restore', join(dir, f)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(ts86(['--restore', good, '-m', '128']).stderr).toMatch(/drop -k\/-i\/-p\/-m/);
  });

  it('--serial-script: a timed-out expect stops the run with status 1; a bad script is a user error', () => {
    const s1 = join(dir, 's1.txt');
    writeFileSync(s1, '# waits for text that never comes\nwait 10ms\nexpect "never" 50ms\n');
    const r = ts86([...K, '--serial-script', s1]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/s1\.txt:3: expect "never" timed out after 0\.05 s of machine time/);
    const s2 = join(dir, 's2.txt');
    writeFileSync(s2, 'send "x"\nfrobnicate\n');
    const b = ts86([...K, '--serial-script', s2]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/s2\.txt:2: unknown command "frobnicate"/);
  });

  it('checks --rtc-base, --seed, --trace-hash and --snapshot-on', () => {
    for (const [args, re] of [
      [['--rtc-base', 'yesterday'], /--rtc-base yesterday: not a time/],
      [['--seed', '-1'], /--seed -1: an integer/],
      [['--trace-hash', '0'], /--trace-hash 0: a positive instruction count/],
      [['--snapshot-on', 'icount:5'], /--snapshot-on needs --snapshot-out/],
      [['--snapshot-on', 'soon', '--snapshot-out', join(dir, 'x')], /use marker:TEXT .* or icount:N/],
    ] as [string[], RegExp][]) {
      const r = ts86([...K, ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  });
});
