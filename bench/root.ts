// The repository root for the benchmarks: they run as bench/*.ts or, once built, as
// dist/bench/*.js, and spawn the CLI (bin/ts86.js) from there.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function findRoot(from: string): string {
  let d = dirname(fileURLToPath(from));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(d, 'bin', 'ts86.js')) && existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  return process.cwd();
}
