// Prints the whole suite's totals as a plain last line ("tests: N passed, N failed, N skipped"),
// so a log reader sees the suite's count rather than a sub-runner's (the SST conformance total).
// Failed tests are named just above it ("failed: file > suite > test: first line of the
// error"), so a log that keeps only its tail still says what broke.
import type { Reporter } from 'vitest/reporters';
import type { File, Task } from '@vitest/runner';

interface Acc { passed: number; failed: number; skipped: number; names: string[] }

/** The first line of an error (at most 300 characters), or '' for none. */
function firstLine(err: { message?: string } | undefined): string {
  return err ? String(err.message ?? err).split('\n')[0].slice(0, 300) : '';
}

function count(tasks: Task[], acc: Acc, file: string, path: string[]): void {
  for (const t of tasks) {
    if (t.type === 'suite') { count(t.tasks, acc, file, [...path, t.name]); continue; }
    const state = t.result?.state;
    if (state === 'pass') acc.passed++;
    else if (state === 'fail') {
      acc.failed++;
      const why = firstLine(t.result?.errors?.[0]);
      acc.names.push(`failed: ${file} > ${[...path, t.name].join(' > ')}${why ? `: ${why}` : ''}`);
    } else acc.skipped++;
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: File[] = []): void {
    const acc: Acc = { passed: 0, failed: 0, skipped: 0, names: [] };
    for (const f of files) {
      const before = acc.failed;
      count(f.tasks, acc, f.name, []);
      // A file that failed to load (or whose hooks threw) counts as one failure where none
      // of its tests did, and is named.
      if (f.result?.state === 'fail' && f.result.errors?.length) {
        if (acc.failed === before) acc.failed++;
        acc.names.push(`failed: ${f.name}: ${firstLine(f.result.errors[0])}`);
      }
    }
    const names = acc.names.length ? `\n${acc.names.join('\n')}` : '';
    process.stdout.write(`${names}\ntests: ${acc.passed} passed, ${acc.failed} failed, ${acc.skipped} skipped\n`);
  }
}
