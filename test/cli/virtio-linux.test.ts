// The embedded Linux guest (fixtures/linux) with virtio devices, through the real CLI:
// an ext4 disk made here with `mkfs.ext4 -d` is mounted, written and synced, and the
// file is then read from the image on the host with debugfs; the same image with ,ro
// mounts read-only and stays byte-identical; --rng feeds /dev/hwrng; --console virtio
// gives a shell on hvc0. Skipped (with the reason) without the fixture or e2fsprogs.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli } from '../helpers/interactive-cli';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'ts86.js');
const haveLinux = existsSync(join(ROOT, 'fixtures', 'linux', 'bzImage'));

function findTool(name: string): string | null {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}
const MKFS = findTool('mkfs.ext4'), DEBUGFS = findTool('debugfs');
const skipReason = !haveLinux ? 'fixtures/linux missing' : !MKFS || !DEBUGFS ? 'e2fsprogs (mkfs.ext4, debugfs) not installed: apt-get install e2fsprogs' : null;
if (skipReason) console.warn(`virtio-linux tests skipped: ${skipReason}`);

/** A 16 MiB ext4 image holding /hello.txt. */
function makeImage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ts86-virtio-e2e-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'hello.txt'), 'hello from the host\n');
  const img = join(dir, 'disk.img');
  writeFileSync(img, new Uint8Array(0));
  execFileSync(MKFS!, ['-q', '-F', '-E', 'root_owner=0:0', '-d', root, img, '16M'], { stdio: 'ignore' });
  return img;
}

/** Boots with `run` as ts86.run (async: a synchronous spawn would starve vitest's worker RPC). */
function boot(args: string[], params: string, run: string): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'run', '-m', '128', ...args, '-p', `loglevel=1 ${params} ts86.run="${run}"`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (status) => { clearTimeout(timer); resolve({ status, out, err }); });
  });
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

describe.skipIf(skipReason !== null)('Linux guest with virtio devices', () => {
  it('-d: mount the ext4 disk, write a file, sync, power off; the file is in the image. --rng feeds /dev/hwrng', async () => {
    const img = makeImage(), second = makeImage();
    const r = await boot(['-d', img, '-d', `${second},ro`, '--rng'], '', [
      'echo disks: $(ls /sys/block | grep vd) ro=$(cat /sys/block/vdb/ro)',
      'mount /dev/vda /mnt && cat /mnt/hello.txt && echo written-by-the-guest > /mnt/guest.txt && sync && umount /mnt && echo umount-ok',
      'cat /sys/class/misc/hw_random/rng_current',
      'dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1',
      'grep -o virtio-pci-modern /proc/iomem | head -1',
    ].join('; '));
    expect(r.out).toContain('disks: vda vdb ro=1');
    expect(r.out).toContain('hello from the host');
    expect(r.out).toContain('umount-ok');
    expect(r.out).toMatch(/virtio_rng\.\d/);
    const hex = /((?: [0-9a-f]{2}){16}\s+(?: [0-9a-f]{2}){16})/.exec(r.out);
    expect(hex).not.toBeNull();
    expect(new Set(hex![1]!.trim().split(/\s+/)).size).toBeGreaterThan(8);
    expect(r.out).toContain('virtio-pci-modern');
    expect(r.out).toContain('ts86-exit 0');
    expect(r.status).toBe(0);
    const got = execFileSync(DEBUGFS!, ['-R', 'cat /guest.txt', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(got).toBe('written-by-the-guest\n');
  }, 300_000);

  it('-d IMG,ro (legacy interface): a read-only mount, writes refused, the image unchanged', async () => {
    const img = makeImage();
    const before = sha(img);
    const r = await boot(['-d', `${img},ro`], 'virtio_pci.force_legacy=1', [
      'mount /dev/vda /mnt; grep /dev/vda /proc/mounts',
      'cat /mnt/hello.txt',
      'echo x > /mnt/new.txt || echo write-refused',
      'cat /sys/block/vda/ro',
      'grep -o virtio-pci-legacy /proc/ioports | head -1',
    ].join('; '));
    expect(r.out).toMatch(/\/dev\/vda \/mnt ext4 ro[,\s]/);
    expect(r.out).toContain('hello from the host');
    expect(r.out).toContain('write-refused');
    expect(r.out).toMatch(/^1\r?$/m);
    expect(r.out).toContain('virtio-pci-legacy');
    expect(r.status).toBe(0);
    expect(sha(img)).toBe(before);
  }, 300_000);

  it('--deterministic: the same disk writes and rng bytes, bit for bit, in two runs', async () => {
    const a = makeImage();
    const b = a.replace(/disk\.img$/, 'disk2.img');
    writeFileSync(b, readFileSync(a));
    const run = 'dd if=/dev/hwrng bs=16 count=2 2>/dev/null | od -An -tx1; mount /dev/vda /mnt && echo det > /mnt/det.txt && umount /mnt && echo det-ok';
    const [ra, rb] = [await boot(['--deterministic', '--rng', '--stats', '-d', a], '', run), await boot(['--deterministic', '--rng', '--stats', '-d', b], '', run)];
    expect(ra.out).toContain('det-ok');
    expect(rb.out).toBe(ra.out);
    const insns = (err: string): number => (JSON.parse(err.slice(err.indexOf('{'))) as { instructions: number }).instructions;
    expect(insns(rb.err)).toBe(insns(ra.err));
    expect(sha(b)).toBe(sha(a));
  }, 300_000);

  it('--console virtio: an interactive shell on hvc0', async () => {
    const cli = spawnCli(['run', '-m', '128', '--console', 'virtio', '-p', 'loglevel=1']);
    let code: number | null;
    try {
      await cli.waitFor(/ts86:[^\n]*# /, 240_000);
      cli.type('tty; cat /proc/cmdline; echo sum=$((40+2))\n');
      await cli.waitFor(/sum=42/, 60_000);
      cli.type('poweroff\n');
      code = await cli.exited;
    } finally {
      cli.kill();
    }
    expect(cli.out()).toMatch(/^\/dev\/hvc0\r?$/m);
    expect(cli.out()).toMatch(/console=hvc0/);
    expect(cli.out()).not.toMatch(/console=ttyS0/);
    expect(cli.err()).toMatch(/session ended normally/);
    expect(code).toBe(0);
  }, 300_000);
});
