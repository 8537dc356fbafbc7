// Bundles the CLI, the library entry and the benchmarks into dist/ (run by `npm install` via `prepare`).
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // chalk/commander are real dependencies; keep them external so they resolve from node_modules.
  external: ['chalk', 'commander', 'v86'],
  banner: { js: "import { createRequire as __ts86_cr } from 'module'; const require = __ts86_cr(import.meta.url);" },
};

await build({
  ...common,
  entryPoints: {
    cli: 'src/cli/main.ts',
    launch: 'src/cli/launch.ts',
    index: 'src/index.ts',
    'bench/cpu-loop': 'bench/cpu-loop.ts',
    'bench/mmu': 'bench/mmu.ts',
    'bench/boot': 'bench/boot.ts',
    'bench/rep-string': 'bench/rep-string.ts',
    'bench/jit-compile': 'bench/jit-compile.ts',
    'bench/call-ret': 'bench/call-ret.ts',
    'bench/wasm-region': 'bench/wasm-region.ts',
    lockstep: 'src/accel/lockstep/main.ts',
    'bench/kvm-exits': 'bench/kvm-exits.ts',
    'bench/v86-boot': 'bench/v86-boot.ts',
    'bench/snapshot': 'bench/snapshot.ts',
    'bench/virtio-blk': 'bench/virtio-blk.ts',
  },
  outdir: 'dist',
});
