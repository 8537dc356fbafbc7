// The embedded Linux guest (fixtures/linux) under the deterministic test API:
//  - booted twice, the second time without the WebAssembly tier: identical transcripts,
//    instruction counts and state hashes;
//  - restored from a snapshot taken mid-boot: the same transcript from that point,
//    the same final instruction count and state hash as the uninterrupted run;
//  - a device-model regression test: the UART under a burst of 2600 bytes of
//    scripted input (canonical tty, echo on) delivers every byte intact.
// Two full boots and one partial one (about 15-30 s each under the interpreter).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMachine, restoreMachine, runSerialScript } from '../../src/machine/api';
import type { Machine } from '../../src/machine/machine';
import { fastPathDefaults } from '../../src/cpu/fastpaths';

const ROOT = join(__dirname, '..', '..');
const haveLinux = existsSync(join(ROOT, 'fixtures/linux/bzImage')) && existsSync(join(ROOT, 'fixtures/linux/initramfs.cpio.gz'));

// 40 lines of 64 printable characters: 2600 bytes with the newlines.
const BURST = Array.from({ length: 40 }, (_, l) => Array.from({ length: 64 }, (_, k) => String.fromCharCode(0x21 + ((l * 7 + k) % 94))).join('').replace(/["\\]/g, '=')).join('\n') + '\n';
const BURST_MD5 = createHash('md5').update(BURST).digest('hex');
const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

const SCRIPT = `
timeout 120s
expect "ts86:/# "
send "cat > /tmp/burst\\n"
expect "cat > /tmp/burst"
wait 300ms
send "${esc(BURST)}\\x04"
expect "ts86:/# "
send "wc -c < /tmp/burst; md5sum /tmp/burst\\n"
expect "/tmp/burst"
expect "ts86:/# "
send "exit\\n"
`;

/** Mid-boot: the kernel hands over to init, well before the shell prompt. */
const SNAP_MARKER = 'Run /init as init process';

interface RunResult { transcript: string; icount: number; hash: string; status: number; wasmInsns: number }

async function session(vm: Machine): Promise<RunResult> {
  await runSerialScript(vm, SCRIPT, { name: 'burst-script', hostTimeoutMs: 400_000 });
  const o = await vm.run();
  const r = { transcript: vm.serial.text, icount: vm.cpu.icount, hash: vm.stateHash(), status: o.exitStatus, wasmInsns: vm.cpu.statWasmInsns };
  vm.dispose();
  return r;
}

describe.skipIf(!haveLinux)('embedded Linux, deterministic', () => {
  it('boots twice identically, restores from a mid-boot snapshot identically, and the UART survives an input burst', async () => {
    // Run A, with a snapshot taken at SNAP_AT on the way.
    const a = createMachine({ memMiB: 128 });
    let snap: Uint8Array | null = null, bytesAtSnap = -1, hashAtSnap = '', icountAtSnap = -1;
    a.serial.watch(SNAP_MARKER, 0, () => a.atBoundary(() => {
      snap = a.snapshot(); bytesAtSnap = a.serial.bytesWritten; hashAtSnap = a.stateHash(); icountAtSnap = a.cpu.icount;
    }));
    const ra = await session(a);

    // The device-model regression: every byte of the burst arrived, in order.
    expect(ra.status).toBe(0);
    expect(ra.transcript).toContain('ts86-ready');
    expect(ra.transcript).toMatch(/\n\s*2600\r?\n/);
    expect(ra.transcript).toContain(`${BURST_MD5}  /tmp/burst`);
    expect(ra.transcript).toContain('ts86-exit 0');

    // Run B: a second boot, without the WebAssembly tier (the JavaScript one and the
    // interpreter only), identical in every respect.
    const rb = await session(createMachine({ memMiB: 128, extra: { cpu: { wasm: false } } }));
    if (fastPathDefaults().wasm) expect(ra.wasmInsns, 'instructions run as WebAssembly in run A').toBeGreaterThan(1_000_000);
    expect(rb.wasmInsns).toBe(0);
    expect(rb.icount).toBe(ra.icount);
    expect(rb.hash).toBe(ra.hash);
    expect(rb.transcript).toBe(ra.transcript);

    // Run C: restored from the mid-boot snapshot.
    expect(snap).not.toBeNull();
    expect(bytesAtSnap).toBeGreaterThan(0);
    expect(bytesAtSnap).toBeLessThan(ra.transcript.indexOf('ts86-ready'));
    const c = restoreMachine(snap!);
    expect(c.cpu.icount).toBe(icountAtSnap);
    expect(c.stateHash()).toBe(hashAtSnap);
    const rc = await session(c);
    expect(rc.transcript).toBe(ra.transcript.slice(bytesAtSnap));
    expect(rc.icount).toBe(ra.icount);
    expect(rc.hash).toBe(ra.hash);
  }, 900_000);
});
