// The lockstep harness inside npm test: 20,000 instructions per mode, interpreter vs KVM
// single-step, zero unexplained mismatches. `npm run lockstep:full` runs 1,000,000 per mode.
// Skipped (with the reason) where KVM is not usable.
import { describe, expect, it } from 'vitest';
import { formatReport, runLockstep } from '../../src/accel/lockstep/harness';
import { kvm } from '../accel/kvm-env';

const COUNT = Number(process.env.TS86_LOCKSTEP_COUNT ?? 20_000);

describe.skipIf(!kvm.ok)(`lockstep: interpreter vs KVM single-step${kvm.ok ? '' : ` (skipped: ${kvm.reason})`}`, () => {
  for (const mode of ['real', 'pm32'] as const) {
    it(`${mode === 'real' ? '16-bit real mode' : '32-bit protected mode without paging'}: ${COUNT} instructions, no unexplained mismatch`, () => {
      const r = runLockstep({ mode, count: COUNT, seed: 20261122 });
      if (typeof r === 'string') throw new Error(r);
      const report = formatReport(r);
      expect(r.mismatchCount, report).toBe(0);
      expect(r.compared).toBeGreaterThanOrEqual(COUNT);
      // The streams really exercise faults on both sides, not just straight-line code.
      expect(Object.values(r.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(COUNT / 100);
    }, 120_000);
  }
});
