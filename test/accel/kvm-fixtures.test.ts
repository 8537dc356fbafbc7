// The QEMU-style test kernels of fixtures/ under --accel kvm, compared with the
// interpreter: same serial output, same exit status. Skipped without a usable KVM.
//
// Which fixtures a host can run depends on its KVM. On this project's development
// host /dev/kvm is PVM: real mode runs, and 32-bit protected mode without paging runs
// through KVM's instruction emulator, which has no protected-mode IRET (interrupt
// handlers) and no x87 — so fixtures that need those, or 32-bit paging, are skipped
// there with that reason (probe: no 32-bit paging), and run on a VMX/SVM host.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine, type MachineConfig } from '../../src/machine/machine';
import { BufferCharBackend } from '../../src/devices/chardev';
import { kvm } from './kvm-env';

const FIX = join(__dirname, '..', '..', 'fixtures');

interface Case {
  name: string;
  file: string;
  flat?: { bits: 16 | 32; addr: number };
  status: number;
  /** Why this case cannot run on a KVM without 32-bit paging (PVM), or '' when it can. */
  needsFullPm: string;
}

const CASES: Case[] = [
  { name: 'stepper boot sector (real mode)', file: 'step/steptest.bin', flat: { bits: 16, addr: 0x7c00 }, status: 67, needsFullPm: '' },
  { name: 'real-mode PIC + PIT + UART kernel', file: 'platform/realmode-kernel.bin', flat: { bits: 16, addr: 0x7c00 }, status: 0x43, needsFullPm: '' },
  { name: 'gdb fixture (multiboot, 32-bit, no interrupts)', file: 'gdb/gdbtest.elf', status: 85, needsFullPm: '' },
  { name: 'multiboot test kernel (mbtest)', file: 'multiboot/mbtest.elf', status: 33, needsFullPm: 'its x87 check needs FLD in protected mode, which PVM hands to KVM\'s instruction emulator (no x87 there)' },
  { name: 'protected-mode PIC + PIT + UART kernel', file: 'platform/kernel.bin', status: 0x43, needsFullPm: 'its timer handler returns with a protected-mode IRET, which KVM\'s instruction emulator (used by PVM without paging) does not implement' },
  { name: 'APIC timer / IPI / RTC kernel', file: 'platform/apic-kernel.bin', status: 0x43, needsFullPm: 'protected-mode IRET, as above' },
];

async function runOne(c: Case, accel: 'interp' | 'kvm', irqchip: 'user' | 'kernel' = 'user'): Promise<{ status: number; out: string; message: string }> {
  const serial = new BufferCharBackend();
  const cfg: MachineConfig = {
    memMiB: 64, kernel: { path: c.file.split('/').pop()!, image: new Uint8Array(readFileSync(join(FIX, c.file))) }, serial, accel, irqchip,
    flatBits: c.flat?.bits, flatAddr: c.flat?.addr,
  };
  const m = new Machine(cfg);
  try {
    const r = await m.run();
    return { status: r.exitStatus, out: serial.text, message: r.message };
  } finally {
    m.close();
  }
}

describe.skipIf(!kvm.ok)(`fixtures under --accel kvm vs the interpreter${kvm.ok ? '' : ` (skipped: ${kvm.reason})`}`, () => {
  for (const c of CASES) {
    const skip = c.needsFullPm !== '' && !kvm.paging32;
    for (const irqchip of ['user', 'kernel'] as const) {
      it.skipIf(skip)(`${c.name}, irqchip ${irqchip}${skip ? ` — skipped on this host: ${c.needsFullPm}` : ''}`, async () => {
        const ref = await runOne(c, 'interp');
        expect(ref.status).toBe(c.status);
        const got = await runOne(c, 'kvm', irqchip);
        expect(got.message).toBe(ref.message);
        expect(got.out).toBe(ref.out);
        expect(got.status).toBe(ref.status);
      }, 30_000);
    }
  }

  it.skipIf(kvm.paging32)('an instruction KVM cannot run stops the guest with a guest error and a register dump (PVM: x87 in mbtest)', async () => {
    const r = await runOne(CASES.find((c) => c.file === 'multiboot/mbtest.elf')!, 'kvm');
    expect(r.out).toContain('ok 7 cpuid fpu+apic'); // everything up to the x87 check ran, through the same devices
    expect(r.status).toBe(4);
    expect(r.message).toMatch(/^KVM internal error \(suberror 1/);
    expect(r.message).toMatch(/EIP=[0-9a-f]{8}/);
    expect(r.message).toMatch(/=> [0-9a-f]{8}: fld /);
  }, 30_000);

  it('--deterministic with KVM is refused with a clear error', () => {
    expect(() => new Machine({ memMiB: 64, kernel: { path: 'x', image: new Uint8Array([0xf4]) }, accel: 'kvm', deterministic: true, flatBits: 16, flatAddr: 0x7c00 }))
      .toThrow(/--deterministic needs the interpreter/);
  });

  it('snapshots and state hashes read the vCPU; a snapshot itself needs the interpreter', () => {
    const m = new Machine({ memMiB: 64, kernel: { path: 'hlt', image: new Uint8Array([0xb8, 0x34, 0x12, 0xf4]) }, accel: 'kvm', flatBits: 16, flatAddr: 0x7c00 });
    try {
      expect(m.runFor(Infinity, 1e9)?.reason).toBe('poweroff'); // mov ax, 0x1234 ; hlt with IF=0
      expect(m.cpu.r32[0]! & 0xffff).toBe(0x1234); // the Cpu mirrors the vCPU once something looks
      expect(m.stateHash({ ram: false })).toMatch(/^[0-9a-f]{64}$/);
      expect(() => m.snapshot()).toThrow(/need the interpreter/);
    } finally {
      m.close();
    }
  });

  it('a guest that spins without exiting is still preempted for device timers (the deadline kick)', async () => {
    // jmp $ forever, with the PIT unprogrammed: only the host-time budget ends runFor.
    const m = new Machine({ memMiB: 64, kernel: { path: 'spin', image: new Uint8Array([0xeb, 0xfe]) }, accel: 'kvm', flatBits: 16, flatAddr: 0x7c00 });
    try {
      const t0 = performance.now();
      expect(m.runFor(Infinity, 50e6)).toBeNull();
      expect(performance.now() - t0).toBeLessThan(5000);
      m.stop('test');
      expect(m.runFor(Infinity, 50e6)?.reason).toBe('stopped');
    } finally {
      m.close();
    }
  });
});
