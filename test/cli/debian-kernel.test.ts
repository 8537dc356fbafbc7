// Debian's stock i386 kernel (linux-image-*-686, fetched by scripts/fetch-debian-kernel.sh
// with apt-get download, never installed) booted by the built CLI with the embedded
// busybox initramfs: reaches `ts86-ready`, runs `uname -a`, powers off with status 0.
//
// The full boot takes about 9 minutes on the interpreter (measured 558 s wall, 6.74 G
// guest instructions, on a busy 2-core host): about 4 G of those instructions are the
// kernel's boot-time crypto self-tests in its bignum (MPI) code, and ~2.5 min before the
// first console line is the XZ decompression. By default the test boots with
// `cryptomgr.notests`, which skips only those self-tests (about 3.3 minutes, 196 s,
// 2.74 G instructions); TS86_DEBIAN_KERNEL_FULL=1 boots without it.
// TS86_DEBIAN_KERNEL_PARAMS adds kernel parameters.
// Skipped (with the reason printed) when TS86_SKIP_DEBIAN_KERNEL=1, when the fixture's
// initramfs is missing, or when the script cannot fetch the kernel (no apt, no network,
// no i386 package lists).
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'ts86.js');
const INITRD = join(ROOT, 'fixtures', 'linux', 'initramfs.cpio.gz');
const FETCH = join(ROOT, 'scripts', 'fetch-debian-kernel.sh');

const FULL = process.env.TS86_DEBIAN_KERNEL_FULL === '1';
/** About 3x the measured boot-to-power-off time (196 s without the crypto self-tests, 558 s with them). */
const BOOT_MS = (FULL ? 28 : 12) * 60_000;

function fetchKernel(): { path: string | null; why: string } {
  if (process.env.TS86_SKIP_DEBIAN_KERNEL === '1') return { path: null, why: 'TS86_SKIP_DEBIAN_KERNEL=1' };
  if (!existsSync(INITRD)) return { path: null, why: 'fixtures/linux/initramfs.cpio.gz missing' };
  const r = spawnSync('sh', [FETCH], { encoding: 'utf8', timeout: 600_000 });
  const path = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !path || !existsSync(path)) {
    const why = (r.stderr || r.error?.message || `exit status ${r.status}`).trim().split('\n').pop() ?? '';
    return { path: null, why: `fetch-debian-kernel.sh failed: ${why}` };
  }
  return { path, why: '' };
}

const kernel = fetchKernel();
if (!kernel.path) console.warn(`skipping the Debian kernel boot test: ${kernel.why}`);

describe.skipIf(!kernel.path)(`Debian's stock 686 kernel${kernel.path ? '' : ` (skipped: ${kernel.why})`}`, () => {
  it('boots with the embedded initramfs, runs uname -a, and powers off with status 0', async () => {
    const extra = [FULL ? '' : 'cryptomgr.notests', process.env.TS86_DEBIAN_KERNEL_PARAMS?.trim() ?? ''].filter(Boolean).join(' ');
    const args = ['run', '-k', kernel.path as string, '-i', INITRD, '-m', '256', '-p', `${extra ? `${extra} ` : ''}ts86.run="uname -a"`];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => {
      // Ask for the register dump (SIGQUIT) so a hang shows where the guest is, then stop it.
      child.kill('SIGQUIT');
      setTimeout(() => child.kill('SIGKILL'), 2000);
    }, BOOT_MS - 10_000);
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    clearTimeout(timer);
    const context = `\n--- stdout (end) ---\n${out.slice(-3000)}\n--- stderr ---\n${err.slice(-3000)}`;
    expect(out, `no ts86-ready marker${context}`).toContain('ts86-ready');
    // e.g. "Linux ts86 6.1.0-50-686 #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02) i686 GNU/Linux"
    expect(out, `no uname output${context}`).toMatch(/Linux ts86 \d+\.\d+\.\d+-\d+-686 #1 SMP .*Debian \S+ .* i686 GNU\/Linux/);
    expect(out, `no exit status line${context}`).toMatch(/ts86-exit 0\b/);
    expect(err, context).toMatch(/session ended normally/);
    expect(code, context).toBe(0);
  }, BOOT_MS);
});
