// The embedded Linux guest (fixtures/linux) booted by the real CLI, driven through
// stdin/stdout like a user at a terminal: reach the shell, type `uname -a`, then
// `poweroff`. Skipped when the fixture is absent.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, spawnCli } from '../helpers/interactive-cli';

const haveLinux = existsSync(join(ROOT, 'fixtures', 'linux', 'bzImage')) && existsSync(join(ROOT, 'fixtures', 'linux', 'initramfs.cpio.gz'));

describe.skipIf(!haveLinux)('the embedded Linux guest', () => {
  it('`ts86 run` with no kernel boots to a shell; uname -a and poweroff work', async () => {
    const cli = spawnCli(['run', '-m', '128']);
    let code: number | null;
    try {
      await cli.waitFor(/ts86-ready/, 180_000);
      await cli.waitFor(/ts86:[^\n]*# /, 60_000); // busybox may append a cursor query (ESC [6n) to the prompt
      cli.type('uname -a\n');
      await cli.waitFor(/Linux ts86 \S+ .* i686/, 60_000);
      cli.type('poweroff\n');
      code = await cli.exited;
    } finally {
      cli.kill(); // never leave a guest running after a failure
    }
    expect(cli.out()).toMatch(/Linux ts86 6\.1\.\d+/);
    expect(cli.err()).toMatch(/session ended normally/);
    expect(code).toBe(0);
  }, 300_000);
});
