// virtio-blk sequential throughput from inside the embedded Linux guest: busybox dd
// on /dev/vda (a sparse raw image in the temp directory), each phase timed by the
// guest's `time` (guest time = host time outside --deterministic). Prints MiB/s per
// phase, median of BENCH_RUNS boots (default 3). Never part of npm test.
//
// Run: node esbuild.config.mjs && node dist/bench/virtio-blk.js
// Environment: BENCH_RUNS (default 3), BENCH_MIB (default 32), BENCH_MEM MiB (default 256).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRoot } from './root';
import { median } from './median';

const ROOT = findRoot(import.meta.url);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MIB = Number(process.env.BENCH_MIB ?? 32);
const MEM = Number(process.env.BENCH_MEM ?? 256);

const PHASES: [string, string][] = [
  ['write, O_DIRECT + fsync', `dd if=/dev/zero of=/dev/vda bs=1M count=${MIB} oflag=direct conv=fsync`],
  ['write, page cache + fsync', `dd if=/dev/zero of=/dev/vda bs=1M count=${MIB} conv=fsync`],
  ['read, O_DIRECT', `dd if=/dev/vda of=/dev/null bs=1M count=${MIB} iflag=direct`],
  ['read, page cache (cold)', `echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=1M count=${MIB}`],
  ['no disk: /dev/zero to /dev/null', `dd if=/dev/zero of=/dev/null bs=1M count=${MIB}`],
];

function runOnce(img: string): Promise<number[]> {
  const script = PHASES.map(([, cmd], i) => `echo phase-${i}; time sh -c '${cmd}'`).join('; ');
  const params = `loglevel=1 ts86.run64=${Buffer.from(script).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'ts86.js'), 'run', '-m', String(MEM), '-d', img, '-p', params], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', () => {
      const secs = PHASES.map((_, i) => {
        const m = new RegExp(`phase-${i}[\\s\\S]*?real\\s+(\\d+)m\\s*([\\d.]+)s`).exec(out);
        return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
      });
      if (secs.some(Number.isNaN)) reject(new Error(`could not parse the guest's timings:\n${out.slice(-3000)}`));
      else resolve(secs);
    });
  });
}


const dir = mkdtempSync(join(tmpdir(), 'ts86-bench-blk-'));
const img = join(dir, 'bench.img');
writeFileSync(img, new Uint8Array(0));
truncateSync(img, 2 * MIB * 1048576);
try {
  const runs: number[][] = [];
  for (let r = 0; r < RUNS; r++) runs.push(await runOnce(img));
  console.log(`virtio-blk, ${MIB} MiB sequential, bs=1M, median of ${RUNS} boots (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  PHASES.forEach(([name, cmd], i) => {
    const s = median(runs.map((x) => x[i]!));
    console.log(`  ${name.padEnd(34)} ${(MIB / s).toFixed(1).padStart(7)} MiB/s  (${s.toFixed(2)} s)   ${cmd}`);
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
