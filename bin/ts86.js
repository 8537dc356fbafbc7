#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/ by `npm install` (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('ts86: dist/cli.js is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(2);
}
await import(cli);
