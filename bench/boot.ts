// Boot benchmark: seconds from spawning the built CLI (`node bin/ts86.js run ...`)
// to the guest's `ts86-ready` line, median of BENCH_RUNS runs (default 3; ts86 and the
// peers take turns, round by round, and each run reports the host's CPU steal), for
// (a) the embedded guest (fixtures/linux) and (b) Debian's stock i386 686 kernel
// with the embedded initramfs, when scripts/fetch-debian-kernel.sh can fetch it.
// The guest runs `ts86.run=true`, so it powers off right after the marker; the
// guest instruction count comes from `--stats` (printed at exit, so it covers the
// whole run up to power-off, a little past the marker).
//
// Run: node esbuild.config.mjs && node dist/bench/boot.js   (never part of npm test)
// Also shown: the seconds to the first console byte (for the Debian kernel most of
// the time before it is the XZ decompression of the 5.7 MB bzImage).
// Environment: BENCH_RUNS (default 3), BENCH_TIMEOUT seconds per run (default 1800),
// BENCH_MEM MiB (default 256), BENCH_PARAMS extra kernel parameters (e.g.
// cryptomgr.notests: the Debian kernel's boot-time crypto self-tests take ~60% of its
// boot), TS86_SKIP_DEBIAN_KERNEL=1 to leave out (b).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findRoot } from './root';
import { DEFAULT_CMDLINE } from '../src/machine/machine';
import { installPeers, qemuPeer, v86Peer, type Peer } from './peers';
import { withSteal } from './hostload';

const ROOT = findRoot(import.meta.url);
const BIN = join(ROOT, 'bin', 'ts86.js');
const INITRD = join(ROOT, 'fixtures', 'linux', 'initramfs.cpio.gz');
const KERNEL = join(ROOT, 'fixtures', 'linux', 'bzImage');
const FETCH = join(ROOT, 'scripts', 'fetch-debian-kernel.sh');

export interface BootRun {
  /** Seconds from spawn to the first byte on stdout (the guest console), NaN if none. */
  first: number;
  /** Seconds from spawn to the ready marker on stdout (NaN if it never came). */
  ready: number;
  /** Seconds from spawn to process exit. */
  exit: number;
  exitCode: number | null;
  /** Guest instructions at exit (--stats), or NaN. */
  instructions: number;
  /** The --stats JSON printed at exit, if any. */
  stats?: Record<string, unknown>;
  tail: string;
}

/** Spawns the CLI once and times the ready marker and the exit. */
export function bootOnce(args: string[], timeoutMs: number, marker = 'ts86-ready'): Promise<BootRun> {
  return new Promise((resolvePromise) => {
    const t0 = process.hrtime.bigint();
    const secs = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', ready = NaN, first = NaN;
    child.stdout.on('data', (d: Buffer) => {
      if (Number.isNaN(first)) first = secs();
      out += d.toString();
      if (Number.isNaN(ready) && out.includes(marker)) ready = secs();
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const exit = secs();
      let instructions = NaN;
      let stats: Record<string, unknown> | undefined;
      const brace = err.indexOf('\n{');
      if (brace >= 0) {
        try {
          stats = JSON.parse(err.slice(brace + 1)) as Record<string, unknown>;
          instructions = Number(stats.instructions ?? NaN);
        } catch { /* no stats */ }
      }
      resolvePromise({ first, ready, exit, exitCode: code, instructions, stats, tail: `${out.slice(-1500)}\n${err.slice(0, 3000)}` });
    });
  });
}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs the fetch script; the kernel's path, or null with the reason printed. */
function fetchDebianKernel(): string | null {
  if (process.env.TS86_SKIP_DEBIAN_KERNEL === '1') { console.log('# Debian kernel: skipped (TS86_SKIP_DEBIAN_KERNEL=1)'); return null; }
  const r = spawnSync('sh', [FETCH], { encoding: 'utf8', timeout: 600_000 });
  const path = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !path || !existsSync(path)) {
    console.log(`# Debian kernel: skipped (${(r.stderr || r.error?.message || `fetch script exit ${r.status}`).trim().split('\n').pop()})`);
    return null;
  }
  return resolve(path);
}

interface Row {
  guest: string;
  emulator: string;
  /** Seconds to the ready marker, one per run (NaN for a run without the marker). */
  ready: number[];
  instructions: number[];
  /** Host CPU steal during each run, percent (NaN where unknown: bench/hostload.ts). */
  steal: number[];
  skipped?: string;
  /** ts86 only: the --stats counters of the median run. */
  stats?: Record<string, unknown>;
}

function fmt(x: number, digits: number): string { return Number.isNaN(x) ? '-' : x.toFixed(digits); }

function printTable(header: string[], table: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const t of table) console.log(line(t));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--install-peers')) installPeers(ROOT);
  const withPeers = !argv.includes('--no-peers') && process.env.BENCH_PEERS !== '0';
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3) || 3);
  const timeoutMs = Number(process.env.BENCH_TIMEOUT ?? 1800) * 1000;
  const mem = process.env.BENCH_MEM ?? '256';
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js missing: run `node esbuild.config.mjs` first');
  const params = `loglevel=1 ${process.env.BENCH_PARAMS ? `${process.env.BENCH_PARAMS} ` : ''}ts86.run=true`;
  const guests: { name: string; kernel: string }[] = [];
  if (existsSync(KERNEL) && existsSync(INITRD)) guests.push({ name: 'embedded', kernel: KERNEL });
  else console.log('# embedded guest: skipped (fixtures/linux missing)');
  const deb = existsSync(INITRD) ? fetchDebianKernel() : null;
  if (deb) guests.push({ name: `debian ${deb.split('/').pop()}`, kernel: deb });
  const peers: Peer[] = withPeers ? [v86Peer(ROOT), qemuPeer()] : [];
  // The peers get exactly the command line ts86 gives the kernel (kvmtool's defaults + the parameters).
  const cmdline = `${DEFAULT_CMDLINE} ${params}`;

  const rows: Row[] = [];
  for (const g of guests) {
    const args = ['run', '-k', g.kernel, '-i', INITRD, '-m', mem, '-p', params, '--stats'];
    console.log(`# ${g.name} / ts86: node bin/ts86.js ${args.map((a) => (/[\s"]/.test(a) ? `'${a}'` : a)).join(' ')}`);
    const row: Row = { guest: g.name, emulator: 'ts86', ready: [], instructions: [], steal: [] };
    const all: BootRun[] = [];
    rows.push(row);
    const live: { row: Row; peer: Peer }[] = [];
    for (const p of peers) {
      const prow: Row = { guest: g.name, emulator: p.name, ready: [], instructions: [], steal: [] };
      rows.push(prow);
      const why = p.unavailable();
      if (why) { prow.skipped = why; console.log(`# ${g.name} / ${p.name}: skipped (${why})`); continue; }
      console.log(`# ${g.name} / ${p.name}: ${cmdline}`);
      live.push({ row: prow, peer: p });
    }
    // Round by round (ts86, then each peer), so a host that gets slower or faster during
    // the benchmark (see hostload.ts) weighs on every emulator alike.
    let ts86Done = false;
    for (let i = 0; i < runs; i++) {
      if (!ts86Done) {
        const [r, steal] = await withSteal(() => bootOnce(args, timeoutMs));
        all.push(r);
        row.ready.push(r.ready);
        row.instructions.push(r.instructions);
        row.steal.push(steal);
        console.log(`#   ts86 run ${i + 1}/${runs}: first output ${fmt(r.first, 2)} s, ready ${fmt(r.ready, 2)} s, exit ${fmt(r.exit, 2)} s (status ${r.exitCode}), ${fmt(r.instructions / 1e6, 1)} M instructions, host steal ${fmt(steal, 1)}%`);
        if (Number.isNaN(r.ready)) { ts86Done = true; console.log(`#   no ts86-ready marker; the end of the output:\n${r.tail.replace(/^/gm, '#   | ')}`); }
      }
      for (let k = 0; k < live.length; k++) {
        const { row: prow, peer } = live[k];
        const [r, steal] = await withSteal(() => peer.boot(g.kernel, INITRD, cmdline, Number(mem), timeoutMs, 'ts86-ready'));
        prow.ready.push(r.ready);
        prow.instructions.push(r.instructions);
        prow.steal.push(steal);
        console.log(`#   ${peer.name} run ${i + 1}/${runs}: ready ${fmt(r.ready, 2)} s, ${fmt(r.instructions / 1e6, 1)} M instructions, host steal ${fmt(steal, 1)}%`);
        if (Number.isNaN(r.ready)) { console.log(`#   no ts86-ready marker; the end of the output:\n${r.tail.replace(/^/gm, '#   | ')}`); live.splice(k--, 1); }
      }
    }
    const med = median(row.ready);
    if (all.length > 0) row.stats = (all.reduce((best, r) => (Math.abs(r.ready - med) < Math.abs(best.ready - med) ? r : best), all[0])).stats;
  }

  console.log(`\n# seconds from process start to the ready marker, median of ${runs} runs (taken in turns); ratios are ts86 / peer (lower is better for ts86);\n# host steal %: CPU time the hypervisor took from this machine during the runs (median; it slows whatever runs then)`);
  const header = ['guest', 'emulator', 'runs', 'ready s (median)', 'guest M insns', 'M insns/s', 'host steal %', 'ts86 / this'];
  const table = rows.map((r) => {
    if (r.skipped) return [r.guest, r.emulator, '0', 'skipped', '-', '-', '-', '-'];
    const ready = median(r.ready), insns = median(r.instructions);
    const ts86 = rows.find((x) => x.guest === r.guest && x.emulator === 'ts86');
    const ratio = ts86 && r !== ts86 ? median(ts86.ready) / ready : NaN;
    return [r.guest, r.emulator, String(r.ready.length), fmt(ready, 2), fmt(insns / 1e6, 0), fmt(insns / ready / 1e6, 1), fmt(median(r.steal), 1), r === ts86 ? '1.00' : fmt(ratio, 2)];
  });
  printTable(header, table);

  const counters = rows.filter((r) => r.stats);
  if (counters.length > 0) {
    console.log('\n# ts86 TLB / reverse-map / code-cache counters per boot (--stats of the median run)');
    const pick = (s: Record<string, unknown>, group: string, key: string): string => {
      const g = s[group] as Record<string, number> | undefined;
      return g && typeof g[key] === 'number' ? String(g[key]) : '-';
    };
    const cols: [string, string, string][] = [['tlb', 'hits', 'TLB hits'], ['tlb', 'misses', 'TLB misses'], ['tlb', 'flushes', 'flushes'],
      ['tlb', 'cr3Switches', 'CR3 switches'], ['rmap', 'allocs', 'rmap allocs'], ['rmap', 'steals', 'steals'],
      ['rmap', 'invalidations', 'invalidations'], ['code', 'decodes', 'decodes'], ['code', 'invalidations', 'code inval.']];
    printTable(['guest', 'emulator', ...cols.map((c) => c[2])], counters.map((r) => [r.guest, r.emulator, ...cols.map(([g, k]) => pick(r.stats ?? {}, g, k))]));
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  main().catch((e: unknown) => {
    console.error(`bench/boot: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
