// `node dist/lockstep.js [--mode real|pm32|all] [--count N] [--seed S] [--stream K]`:
// the lockstep harness from the command line (npm run lockstep:full runs 1,000,000
// instructions per mode). Exit status 1 on any mismatch, 2 when KVM is unusable.
import { formatReport, runLockstep } from './harness';
import { exclusionList, type LockstepMode } from './exclusions';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const modeArg = arg('mode') ?? 'all';
const modes: LockstepMode[] = modeArg === 'all' ? ['real', 'pm32'] : [modeArg as LockstepMode];
if (!modes.every((m) => m === 'real' || m === 'pm32')) { process.stderr.write(`--mode ${modeArg}: real, pm32 or all\n`); process.exit(2); }
const count = Number(arg('count') ?? 20_000);
const seed = Number(arg('seed') ?? 1);
const stream = arg('stream') !== undefined ? Number(arg('stream')) : undefined;
let bad = false;
for (const mode of modes) {
  if (process.argv.includes('--exclusions')) process.stdout.write(`excluded in ${mode}:\n${exclusionList(mode).map((l) => `  ${l}`).join('\n')}\n`);
  const r = runLockstep({ mode, count, seed, onlyStream: stream, paranoid: process.argv.includes('--paranoid'), progress: (p) => process.stderr.write(`  ${mode}: ${p.compared} compared, ${(p.ms / 1000).toFixed(0)} s\n`) });
  if (typeof r === 'string') { process.stderr.write(`lockstep: KVM is not usable here: ${r}\n`); process.exit(2); }
  process.stdout.write(`${formatReport(r)}\n`);
  if (r.mismatchCount) bad = true;
}
process.exit(bad ? 1 : 0);
