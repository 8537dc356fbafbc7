// Prints the whole suite's totals as a plain last line ("tests: N passed, N failed, N skipped"),
// so a log reader sees the suite's count rather than a sub-runner's (the SST conformance total).
import type { Reporter } from 'vitest/reporters';
import type { File, Task } from '@vitest/runner';

function count(tasks: Task[], acc: { passed: number; failed: number; skipped: number }): void {
  for (const t of tasks) {
    if (t.type === 'suite') { count(t.tasks, acc); continue; }
    const state = t.result?.state;
    if (state === 'pass') acc.passed++;
    else if (state === 'fail') acc.failed++;
    else acc.skipped++;
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: File[] = []): void {
    const acc = { passed: 0, failed: 0, skipped: 0 };
    count(files, acc);
    process.stdout.write(`\ntests: ${acc.passed} passed, ${acc.failed} failed, ${acc.skipped} skipped\n`);
  }
}
