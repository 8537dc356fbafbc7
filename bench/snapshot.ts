// Snapshot benchmark: boots the embedded Linux guest deterministically to its shell
// prompt, then measures the snapshot file size and the time to save it and to
// restore a machine from it (median of BENCH_RUNS, default 3), and checks that the
// restored machine's state hash equals the original's.
//
// Run: node esbuild.config.mjs && node dist/bench/snapshot.js   (never part of npm test)
// Environment: BENCH_RUNS (default 3), BENCH_MEM MiB (default 128).
import { createMachine, restoreMachine } from '../src/machine/api';
import { median } from './median';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const memMiB = Number(process.env.BENCH_MEM ?? 128);

const t0 = performance.now();
const vm = createMachine({ memMiB });
await vm.serial.waitFor(/ts86:[^\n]*# /, { timeout: 900_000 });
console.log(`booted to the prompt: ${vm.cpu.icount} instructions, ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const save: number[] = [], load: number[] = [];
let bytes: Uint8Array = new Uint8Array(0);
for (let k = 0; k < runs; k++) {
  let t = performance.now();
  bytes = vm.snapshot();
  save.push(performance.now() - t);
  t = performance.now();
  const r = restoreMachine(bytes);
  load.push(performance.now() - t);
  if (k === 0 && r.stateHash() !== vm.stateHash()) throw new Error('restored state differs from the original');
  r.dispose();
}
let nonZero = 0;
for (let p = 0; p < vm.mem.ram.length; p += 4096) if (vm.mem.ram.subarray(p, p + 4096).some((b) => b !== 0)) nonZero++;
console.log(`guest RAM ${memMiB} MiB, ${nonZero} non-zero pages (${(nonZero * 4096 / 1048576).toFixed(1)} MiB)`);
console.log(`snapshot size: ${(bytes.length / 1048576).toFixed(2)} MiB`);
console.log(`save: median ${median(save).toFixed(0)} ms (${save.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`restore: median ${median(load).toFixed(0)} ms (${load.map((x) => x.toFixed(0)).join(', ')})`);
vm.dispose();
