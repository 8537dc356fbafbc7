#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/ by `npm install` (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'dist', 'cli.js');
const launch = join(here, '..', 'dist', 'launch.js');
if (!existsSync(cli) || !existsSync(launch)) {
  process.stderr.write('ts86: dist/ is missing or stale; run `npm install` (or `npm run build`) first\n');
  process.exit(2);
}
// `ts86 run` on a machine with few cores runs the CLI in a child Node with a smaller V8
// worker pool (dist/launch.js: src/cli/launch.ts says why); everything else runs here.
const { relaunchIfNeeded } = await import(launch);
if (!relaunchIfNeeded(fileURLToPath(import.meta.url))) await import(cli);
