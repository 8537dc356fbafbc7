// The `ts86 step` full-screen interface, driven through tmux as a user would: panels
// drawn, a step highlights the register it changed, commands work, continue runs the
// guest to its end, q quits with the guest's status and restores the screen.
// Skipped where tmux is missing.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const ROOT = join(__dirname, '..', '..');
const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const SOCKET = `ts86-test-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

async function waitFor(pred: (screen: string) => boolean, what: string, escapes = false): Promise<string> {
  let screen = '';
  // A generous deadline: on a loaded 2-core CI machine the TUI process can be starved for seconds.
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    screen = tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'tui');
    if (pred(screen)) return screen;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
}

describe.skipIf(!hasTmux)('ts86 step (TUI under tmux)', () => {
  it('draws the panels, highlights changed registers, runs commands, continues and quits', async () => {
    // The pane's shell records ts86's exit status in a file: under load tmux can mark a pane
    // dead before it has reaped the process, and then never reports #{pane_dead_status}.
    const statusFile = join(mkdtempSync(join(tmpdir(), 'ts86-tui-')), 'status');
    const cmd = `cd ${ROOT} && TERM=xterm-256color node bin/ts86.js step --bits 16 --org 0x7c00 fixtures/step/steptest.bin; echo $? > ${statusFile}`;
    tmux('new-session', '-d', '-s', 'tui', '-x', '120', '-y', '40', cmd);
    try {
      tmux('set-option', '-t', 'tui', 'remain-on-exit', 'on');
      let s = await waitFor((x) => x.includes('Registers'), 'the first frame');
      for (const panel of ['Disassembly', 'Registers', 'EFLAGS', 'Segments', 'Stack', 'Memory x/b 00007c00', 'Page walk 00007c00', 'Guest console']) expect(s).toContain(panel);
      expect(s).toMatch(/=>0000:7c00 {2}31 c0 +xor ax,ax/);
      expect(s).toMatch(/CS 0000  00000000 0000ffff real mode/);

      // Five steps: the fifth is mov cx,3, which changes ECX (and EIP).
      for (let k = 0; k < 5; k++) tmux('send-keys', '-t', 'tui', 's');
      s = await waitFor((x) => x.includes('instructions 5'), 'five steps');
      expect(s).toMatch(/=>0000:7c0c {2}01 c8 +add ax,cx/);
      expect(s).toMatch(/ECX 00000003\*/);
      expect(s).toMatch(/EAX 00000000 /); // unchanged: no marker
      expect(s).toMatch(/EIP 00007c0c\*/);
      const esc = tmux('capture-pane', '-p', '-e', '-t', 'tui');
      expect(esc).toMatch(/ECX \x1b\[7m00000003/); // inverse video on the changed value

      // n steps over the LOOP after one more step.
      tmux('send-keys', '-t', 'tui', 's');
      tmux('send-keys', '-t', 'tui', 'n');
      s = await waitFor((x) => x.includes('=>0000:7c10'), 'step over LOOP');
      expect(s).toMatch(/EAX 00000006\*/);

      // The command line: memory, page walk, breakpoint.
      tmux('send-keys', '-t', 'tui', ':x/4x 7c2f', 'Enter');
      s = await waitFor((x) => x.includes('00007c2f: 43 83 eb 02'), 'x/4x output');
      expect(s).toContain('Memory x/b 00007c2f');
      tmux('send-keys', '-t', 'tui', ':walk 0x400000', 'Enter');
      s = await waitFor((x) => x.includes('Page walk 00400000'), 'walk');
      tmux('send-keys', '-t', 'tui', ':b 7c2f', 'Enter');
      s = await waitFor((x) => x.includes('breakpoint 1 at 00007c2f'), 'breakpoint');
      tmux('send-keys', '-t', 'tui', 'c');
      s = await waitFor((x) => x.includes('=>0000:7c2f'), 'continue to the breakpoint');
      expect(s).toContain('breakpoint at 0000:7c2f');
      tmux('send-keys', '-t', 'tui', ':d 1', 'Enter');
      s = await waitFor((x) => x.includes('breakpoint 1 deleted'), 'delete');
      tmux('send-keys', '-t', 'tui', 'c');
      s = await waitFor((x) => x.includes('guest ended'), 'the guest to end');
      expect(s).toContain('exit status 67');

      tmux('send-keys', '-t', 'tui', 'q');
      const dead = await (async () => {
        for (const end = Date.now() + 30_000; Date.now() < end;) {
          const v = tmux('display-message', '-p', '-t', 'tui', '#{pane_dead}').trim();
          if (v === '1' && existsSync(statusFile)) return `${v} ${readFileSync(statusFile, 'utf8').trim()}`; // dead, exit status known
          await new Promise((r) => setTimeout(r, 50));
        }
        return 'alive';
      })();
      expect(dead).toBe('1 67');
      // The alternate screen is gone: the panels are no longer on the pane.
      expect(tmux('capture-pane', '-p', '-t', 'tui')).not.toContain('Registers');
    } finally {
      try { tmux('kill-server'); } catch { /* already gone */ }
    }
  }, 180_000);
});
