#!/usr/bin/env node
// `npm test`: the type check, then the suite three times — as shipped, with every CPU/MMU
// fast path off (the reference paths), and with every block compiled on its first run —
// and one plain last line with the totals of all three (each vitest run prints its own
// `tests:` line; the last line of the log must speak for the whole of `npm test`).
import { spawn } from 'node:child_process';

const phases = [
  { name: 'type check', cmd: 'npx', args: ['tsc', '--noEmit', '-p', '.'], env: {} },
  { name: 'all tests', cmd: 'npx', args: ['vitest', 'run'], env: {} },
  // The suites and switches of these two are the package.json scripts test:slow and test:jit.
  { name: 'fast paths off', cmd: 'npm', args: ['run', '-s', 'test:slow'], env: {} },
  { name: 'every block compiled', cmd: 'npm', args: ['run', '-s', 'test:jit'], env: {} },
];

function run(phase) {
  return new Promise((resolve) => {
    const child = spawn(phase.cmd, phase.args, { stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, ...phase.env } });
    let tail = '';
    let line = '';
    const failures = [];
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      const text = d.toString();
      tail = (tail + text).slice(-4096);
      // The summary reporter names each failed test on a line of its own ("failed: ...").
      const lines = (line + text).split('\n');
      line = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('failed: ')) failures.push(l);
    });
    child.on('close', (code, signal) => {
      if (line.startsWith('failed: ')) failures.push(line);
      const m = /tests: (\d+) passed, (\d+) failed, (\d+) skipped\s*$/.exec(tail);
      resolve({ code: code ?? (signal ? 1 : 0), counts: m ? m.slice(1).map(Number) : null, failures });
    });
  });
}

const totals = [0, 0, 0];
const parts = [];
const failures = [];
let failed = false;
for (const phase of phases) {
  const r = await run(phase);
  if (r.code !== 0) failed = true;
  for (const f of r.failures) failures.push(`${phase.name}: ${f}`);
  if (r.counts) {
    r.counts.forEach((n, i) => { totals[i] += n; });
    parts.push(`${phase.name}: ${r.counts[0]}/${r.counts[1]}/${r.counts[2]}`);
  } else if (phase.name !== 'type check') {
    parts.push(`${phase.name}: no summary (exit ${r.code})`);
  }
  if (r.code !== 0 && phase.name === 'type check') break;
}
// Failed tests are repeated here, so the last lines of a long log say what broke.
if (failures.length) process.stdout.write(`\n${failures.join('\n')}\n`);
process.stdout.write(`\nnpm test phases (passed/failed/skipped): ${parts.join('; ')}\n`);
process.stdout.write(`tests: ${totals[0]} passed, ${totals[1]} failed, ${totals[2]} skipped${failed ? ' (npm test FAILED)' : ''}\n`);
process.exitCode = failed ? 1 : 0;
