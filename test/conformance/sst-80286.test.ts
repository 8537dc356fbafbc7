// Conformance: the SingleStepTests 80286 real-mode vectors (see ../shared/testdata/sst-80286/README.md).
// Skipped cleanly where ../shared is absent.
import { describe, expect, it } from 'vitest';
import { revocationList, runSstFile, sstAvailable, sstFiles } from './sst';

describe.skipIf(!sstAvailable())('SST 80286 real-mode conformance', () => {
  it('passes at least 99.5% of the comparable vectors; every 286-vs-386 difference has a reason', () => {
    const revoked = revocationList();
    let passed = 0, failed = 0, known = 0;
    const lines: string[] = [];
    const reasons = new Map<string, number>();
    for (const f of sstFiles()) {
      const r = runSstFile(f, revoked);
      passed += r.passed; failed += r.failed; known += r.known;
      lines.push(`${r.file.padEnd(14)} ${r.passed} passed, ${r.failed} failed, ${r.known} known 286/386 differences`);
      for (const x of r.failures) {
        const m = /known difference: (.*)$/.exec(x);
        if (m) reasons.set(m[1], (reasons.get(m[1]) ?? 0) + 1);
        else lines.push(`    FAIL ${x}`);
      }
    }
    lines.push('Known differences (the 286 the vectors were captured on vs the 386+ ts86 models), by reason:');
    for (const [why, n] of reasons) lines.push(`  ${String(n).padStart(4)}  ${why}`);
    lines.push('Flags masked per instruction: the "u" (undefined) flags of its instruction-table entry (src/cpu/table.ts).');
    const comparable = passed + failed;
    lines.push(`comparable vectors: ${(100 * passed / comparable).toFixed(2)}% pass; all vectors incl. known differences: ${(100 * passed / (comparable + known)).toFixed(2)}%`);
    lines.push(`sst-80286: ${passed} passed, ${failed} failed`);
    console.log(lines.join('\n'));
    expect(passed / comparable).toBeGreaterThanOrEqual(0.995);
  });
});
