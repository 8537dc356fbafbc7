// Peer emulators for the boot benchmark (bench/boot.ts): v86 (the npm package, run
// headless in this Node process's sibling with Debian's SeaBIOS images) and QEMU's TCG
// (`qemu-system-i386 -accel tcg`). Each boots the same kernel, initramfs and kernel
// command line as ts86 and is timed from process spawn to the guest's ready marker, so
// the rows of the table measure the same thing. A peer that is not installed is
// reported as skipped (with the reason), never as a failure; `--install-peers`
// installs what is missing (apt-get for QEMU and SeaBIOS, npm for v86).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface PeerRun {
  /** Seconds from spawn to the ready marker (NaN if it never came). */
  ready: number;
  /** Guest instructions executed up to the marker, where the emulator can count them. */
  instructions: number;
  tail: string;
}

export interface Peer {
  name: string;
  /** Null when usable, else why it is skipped. */
  unavailable(): string | null;
  boot(kernel: string, initrd: string, cmdline: string, memMiB: number, timeoutMs: number, marker: string): Promise<PeerRun>;
}

const SEABIOS_DIR = '/usr/share/seabios';
const SEABIOS = join(SEABIOS_DIR, 'bios.bin');
const VGABIOS = join(SEABIOS_DIR, 'vgabios-stdvga.bin');

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Resolves the v86 package from the repository's node_modules (null if absent). */
function v86Entry(root: string): string | null {
  try {
    return createRequire(join(root, 'package.json')).resolve('v86');
  } catch {
    return null;
  }
}

/** Spawns a process, times the marker on its stdout, kills it at the marker or the timeout. */
function timeMarker(cmd: string, args: string[], marker: string, timeoutMs: number, stderrTail = true): Promise<{ ready: number; out: string; err: string }> {
  return new Promise((resolvePromise) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', ready = NaN;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
      if (Number.isNaN(ready) && out.includes(marker)) {
        ready = Number(process.hrtime.bigint() - t0) / 1e9;
        // v86's runner prints its instruction count and exits by itself; give it a moment.
        setTimeout(() => child.kill('SIGKILL'), cmd === process.execPath ? 2000 : 0);
      }
    });
    child.stderr.on('data', (d: Buffer) => { if (stderrTail) err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolvePromise({ ready, out, err });
    });
  });
}

export function v86Peer(root: string): Peer {
  return {
    name: 'v86',
    unavailable() {
      if (!v86Entry(root)) return 'the npm package v86 is not installed (npm install, or --install-peers)';
      if (!existsSync(SEABIOS) || !existsSync(VGABIOS)) return `SeaBIOS images not found in ${SEABIOS_DIR} (apt-get install seabios, or --install-peers)`;
      return null;
    },
    async boot(kernel, initrd, cmdline, memMiB, timeoutMs, marker) {
      const runner = join(root, 'dist', 'bench', 'v86-boot.js');
      const r = await timeMarker(process.execPath, [runner, kernel, initrd, cmdline, String(memMiB), marker, SEABIOS, VGABIOS], marker, timeoutMs);
      const m = /^v86-instructions (\d+)$/m.exec(r.err);
      return { ready: r.ready, instructions: m ? Number(m[1]) : NaN, tail: `${r.out.slice(-1000)}\n${r.err.slice(-1000)}` };
    },
  };
}

export function qemuPeer(): Peer {
  return {
    name: 'QEMU TCG',
    unavailable() {
      return hasCommand('qemu-system-i386') ? null : 'qemu-system-i386 is not installed (apt-get install qemu-system-x86, or --install-peers)';
    },
    async boot(kernel, initrd, cmdline, memMiB, timeoutMs, marker) {
      // -no-reboot: a panic ends the run instead of looping; the ready marker ends it anyway.
      const r = await timeMarker('qemu-system-i386', ['-accel', 'tcg', '-m', String(memMiB), '-kernel', kernel, '-initrd', initrd,
        '-append', cmdline, '-nographic', '-no-reboot', '-monitor', 'none'], marker, timeoutMs);
      // QEMU's TCG has no guest instruction counter short of -icount, which changes its speed.
      return { ready: r.ready, instructions: NaN, tail: `${r.out.slice(-1000)}\n${r.err.slice(-1000)}` };
    },
  };
}

/** `--install-peers`: installs QEMU, SeaBIOS (apt-get, as root) and v86 (npm) where missing. */
export function installPeers(root: string): void {
  const apt: string[] = [];
  if (!hasCommand('qemu-system-i386')) apt.push('qemu-system-x86');
  if (!existsSync(SEABIOS) || !existsSync(VGABIOS)) apt.push('seabios');
  if (apt.length > 0) {
    console.log(`# installing ${apt.join(' ')} (apt-get)`);
    const r = spawnSync('sh', ['-c', `apt-get update -qq && apt-get install -y -qq ${apt.join(' ')}`], { stdio: 'inherit' });
    if (r.status !== 0) console.log(`# apt-get failed (exit ${r.status}); the rows that need ${apt.join(' ')} will be skipped`);
  }
  if (!v86Entry(root)) {
    console.log('# installing v86 (npm)');
    const r = spawnSync('npm', ['install', '--no-save', 'v86'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) console.log(`# npm install v86 failed (exit ${r.status}); the v86 rows will be skipped`);
  }
}
