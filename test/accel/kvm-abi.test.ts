// The TypeScript KVM layouts against the real <linux/kvm.h>, through the constants the
// shim compiles in. Skipped when the shim is not built.
import { describe, expect, it } from 'vitest';
import { KVM, RUN, SREGS, EVENTS, SIZEOF_REGS, SIZEOF_SREGS, SIZEOF_EVENTS, SIZEOF_GUEST_DEBUG, SIZEOF_SEGMENT, SIZEOF_CPUID_ENTRY2, SIZEOF_RUN } from '../../src/accel/kvm/abi';
import { shim as loaded, shimReason } from './kvm-env';
import type { KvmShim } from '../../src/accel/kvm/shim';

const shim: KvmShim | string = loaded;
import { cpuid } from '../../src/cpu/cpuid';
import { policyEntries, encodeCpuid2, decodeCpuid2 } from '../../src/accel/kvm/cpuid';

describe.skipIf(typeof shim === 'string')(`KVM ABI vs <linux/kvm.h>${shimReason ? ` (skipped: ${shimReason})` : ''}`, () => {
  const c = typeof shim === 'string' ? {} : shim.constants;
  it('ioctl numbers', () => {
    for (const [name, v] of Object.entries(KVM)) expect([name, v]).toEqual([name, c[`KVM_${name}`] ?? v]);
    expect(Object.keys(KVM).filter((k) => c[`KVM_${k}`] !== undefined).length).toBeGreaterThan(25);
  });
  it('struct sizes and offsets', () => {
    expect([SIZEOF_REGS, SIZEOF_SREGS, SIZEOF_EVENTS, SIZEOF_GUEST_DEBUG, SIZEOF_SEGMENT, SIZEOF_CPUID_ENTRY2]).toEqual(
      [c.sizeof_kvm_regs, c.sizeof_kvm_sregs, c.sizeof_kvm_vcpu_events, c.sizeof_kvm_guest_debug, c.sizeof_kvm_segment, c.sizeof_kvm_cpuid_entry2]);
    expect(SIZEOF_RUN).toBe(c.sizeof_kvm_run);
    expect([RUN.EXIT_REASON, RUN.READY_FOR_INTERRUPT_INJECTION, RUN.IF_FLAG, RUN.REQUEST_INTERRUPT_WINDOW, RUN.IMMEDIATE_EXIT, RUN.IO_DIRECTION, RUN.MMIO_PHYS_ADDR, RUN.INTERNAL_SUBERROR, RUN.DEBUG_EXCEPTION, RUN.FAIL_ENTRY_REASON]).toEqual(
      [c.run_exit_reason, c.run_ready_for_interrupt_injection, c.run_if_flag, c.run_request_interrupt_window, c.run_immediate_exit, c.run_io, c.run_mmio, c.run_internal, c.run_debug, c.run_fail_entry]);
    expect([SREGS.CR0, SREGS.EFER, SREGS.APIC_BASE, SREGS.GDT, SREGS.IDT, SREGS.INTERRUPT_BITMAP]).toEqual(
      [c.sregs_cr0, c.sregs_efer, c.sregs_apic_base, c.sregs_gdt, c.sregs_idt, c.sregs_interrupt_bitmap]);
    expect([EVENTS.EXC_INJECTED, EVENTS.INT_INJECTED, EVENTS.NMI_INJECTED, EVENTS.FLAGS, EVENTS.EXC_HAS_PAYLOAD]).toEqual(
      [c.events_exception, c.events_interrupt, c.events_nmi, c.events_flags, c.events_exception_has_payload]);
  });
  it('exports are enumerable (napi_default properties are not)', () => {
    expect(Object.keys(shim as object)).toEqual(expect.arrayContaining(['open', 'ioctl', 'run', 'mmap', 'addressOf', 'eventfd', 'poll']));
  });
  it('ioctl errors throw with errno; open of a missing file too', () => {
    if (typeof shim === 'string') return;
    expect(() => shim.open('/nonexistent/kvm')).toThrow(expect.objectContaining({ errno: 2, code: 'ENOENT' }));
    const fd = shim.eventfd(0);
    expect(() => shim.ioctl(fd, KVM.GET_API_VERSION)).toThrow(expect.objectContaining({ code: expect.stringMatching(/ENOTTY|EINVAL/) }));
    shim.close(fd);
  });
  it('mmap gives a zero-copy ArrayBuffer; addressOf its host address', () => {
    if (typeof shim === 'string') return;
    const ab = shim.mmap(8192, 3, 0x22, -1, 0);
    expect(ab.byteLength).toBe(8192);
    const a = shim.addressOf(ab);
    expect(a % 4096n).toBe(0n);
    expect(shim.addressOf(new Uint8Array(ab, 100))).toBe(a + 100n);
  });
  it('eventfd + poll: the watcher fires on the Node event loop with the counts written', async () => {
    if (typeof shim === 'string') return;
    const fd = shim.eventfd(0);
    let total = 0n;
    const done = new Promise<void>((res) => {
      const h = shim.poll(fd, c.UV_READABLE!, () => { total += shim.eventfdRead(fd); if (total === 5n) { shim.pollStop(h); res(); } });
    });
    shim.eventfdWrite(fd, 2);
    shim.eventfdWrite(fd, 3);
    await done;
    expect(total).toBe(5n);
    shim.close(fd);
  });
});

describe('KVM CPUID table from the interpreter policy', () => {
  const p = { fpu: true, fxsr: true, apic: true, apicId: 0 };
  it('matches the interpreter leaf for leaf except the linear-address width KVM insists on', () => {
    for (const e of policyEntries(p)) {
      const [a, b, cc, d] = cpuid(p, e.fn, 0);
      expect([e.ebx, e.ecx, e.edx]).toEqual([b, cc, d]);
      if (e.fn === 0x80000008) expect(e.eax).toBe(((a & ~0xff00) | 0x3000) >>> 0);
      else expect(e.eax).toBe(a);
    }
  });
  it('masks feature bits the host KVM does not support', () => {
    const sup = [{ fn: 1, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0xffffffff & ~(1 << 24) }];
    const leaf1 = policyEntries(p, sup).find((e) => e.fn === 1)!;
    expect(leaf1.edx & (1 << 24)).toBe(0);
    expect(leaf1.edx & 1).toBe(1);
  });
  it('encodes and decodes struct kvm_cpuid2', () => {
    const es = policyEntries(p);
    expect(decodeCpuid2(encodeCpuid2(es))).toEqual(es);
  });
});
