// `ts86 run --accel ...` end to end: the banner says which backend runs, and KVM
// requests that cannot be honoured are one-line user errors (exit 2).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvm } from './kvm-env';

const BIN = join(__dirname, '..', '..', 'bin', 'ts86.js');
const RM = ['fixtures/platform/realmode-kernel.bin', '--bits', '16', '--flat-addr', '0x7c00', '-m', '64'];

function ts86(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ts86 run --accel', () => {
  it('--accel auto says in the banner which backend it picked and why', () => {
    const r = ts86(['run', ...RM]);
    expect(r.status).toBe(0x43);
    if (kvm.ok && kvm.paging32) expect(r.stderr).toMatch(/\[accel: kvm \(auto\), irqchip user\]/);
    else expect(r.stderr).toMatch(/\[accel: interp \(auto: .+\)\]/);
  });

  it('--accel auto with --deterministic stays on the interpreter', () => {
    const r = ts86(['run', ...RM, '--deterministic']);
    expect(r.stderr).toMatch(/\[accel: interp \(--deterministic needs the interpreter\)\]/);
  });

  it('--accel kvm with --gdb is a user error', () => {
    const r = ts86(['run', ...RM, '--accel', 'kvm', '-s']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('ts86: --accel kvm: --gdb needs the interpreter (use --accel interp)');
  });

  it.skipIf(kvm.ok)(`--accel kvm without a usable KVM is a one-line user error${kvm.ok ? ' (skipped: KVM works here)' : ''}`, () => {
    const r = ts86(['run', ...RM, '--accel', 'kvm']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^ts86: --accel kvm: KVM is not usable here: /);
  });

  for (const irqchip of ['user', 'kernel']) {
    it.skipIf(!kvm.ok)(`--accel kvm --irqchip ${irqchip} runs the real-mode platform kernel${kvm.ok ? '' : ` (skipped: ${kvm.reason})`}`, () => {
      const r = ts86(['run', ...RM, '--accel', 'kvm', '--irqchip', irqchip, '--stats']);
      expect(r.stdout).toBe('ts86 real-mode platform test\nticks: 10\nok\n');
      expect(r.status).toBe(0x43);
      expect(r.stderr).toContain(`[accel: kvm, irqchip ${irqchip}`);
      expect(r.stderr).toMatch(new RegExp(`"accel": "kvm",\\s+"irqchip": "${irqchip}"`));
    });
  }

  it.skipIf(!kvm.ok)('--debug-single-step under KVM prints one CS:EIP line per instruction', () => {
    const r = ts86(['run', 'fixtures/step/steptest.bin', '--bits', '16', '--flat-addr', '0x7c00', '-m', '64', '--accel', 'kvm', '--debug-single-step']);
    expect(r.status).toBe(67);
    const lines = r.stderr.split('\n').filter((l) => /^[0-9a-f]{4}:[0-9a-f]{8}$/.test(l));
    // The interpreter traces the same program; the first steps are the same addresses.
    const ref = ts86(['run', 'fixtures/step/steptest.bin', '--bits', '16', '--flat-addr', '0x7c00', '-m', '64', '--accel', 'interp', '--debug-single-step']);
    const refLines = ref.stderr.split('\n').filter((l) => /^[0-9a-f]{4}:[0-9a-f]{8}$/.test(l));
    expect(lines.slice(0, 10)).toEqual(refLines.slice(0, 10));
    expect(lines.length).toBeGreaterThan(15);
  });
});
