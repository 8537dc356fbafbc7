// LAHF/SAHF, XLAT, CBW/CWDE/CWD/CDQ, MOV moffs, XCHG, CPUID, RDTSC, RDMSR/WRMSR.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, le32, le16 } from '../helpers/cpu-harness';
import { CF, PF, AF, ZF, SF, OF, EAX, ECX, EDX, EBX, GP } from '../../src/cpu/consts';
import { leaf1Edx, SIGNATURE, BRAND } from '../../src/cpu/cpuid';
import { Cpu } from '../../src/cpu/cpu';
import { PhysMemory } from '../../src/mmu/physmem';
import { FakeIo } from '../helpers/cpu-harness';

describe('flags transfer and conversions', () => {
  const h = new Harness().flat32([0xf4]);
  it('lahf: AH = SF ZF 0 AF 0 PF 1 CF (from lazily computed flags)', () => {
    h.exec([0x3c, 0x01, 0x9f], { [EAX]: 0x0000_0000 }); // cmp al, 1 ; lahf  → 0-1: CF SF AF PF
    expect((h.eax >>> 8) & 0xff).toBe(SF | AF | PF | CF | 2);
    h.exec([0x9f], { [EAX]: 0xffff_ffff }, ZF | OF);
    expect(h.eax).toBe(0xffff_42ff);
  });
  it('sahf loads SF ZF AF PF CF from AH, leaves OF', () => {
    h.exec([0x9e], { [EAX]: 0xff00 }, OF);
    expect(h.eflags & (CF | PF | AF | ZF | SF | OF)).toBe(CF | PF | AF | ZF | SF | OF);
    expect(h.eflags & 0x28).toBe(0); // reserved bits 3 and 5 stay clear
    h.exec([0x9e], { [EAX]: 0x0000 }, CF | ZF | SF);
    expect(h.eflags & (CF | PF | AF | ZF | SF | OF)).toBe(0);
  });
  it('cbw / cwde / cwd / cdq', () => {
    h.exec([0x66, 0x98], { [EAX]: 0x1234_5680 });
    expect(h.eax).toBe(0x1234_ff80);
    h.exec([0x98], { [EAX]: 0x1234_8000 });
    expect(h.eax).toBe(0xffff_8000);
    h.exec([0x98], { [EAX]: 0xffff_7fff });
    expect(h.eax).toBe(0x0000_7fff);
    h.exec([0x66, 0x99], { [EAX]: 0x8000, [EDX]: 0x1234_0000 });
    expect(h.edx).toBe(0x1234_ffff);
    h.exec([0x99], { [EAX]: 0x8000_0000, [EDX]: 0 });
    expect(h.edx).toBe(0xffff_ffff);
    h.exec([0x99], { [EAX]: 0x7fff_ffff, [EDX]: 0xffff_ffff });
    expect(h.edx).toBe(0);
  });
  it('xlat uses AL unsigned and EBX (BX with 67), DS overridable', () => {
    for (let k = 0; k < 256; k++) h.w8(DATA + k, 255 - k);
    h.exec([0xd7], { [EAX]: 0xaabb_cc90, [EBX]: DATA });
    expect(h.eax).toBe(0xaabb_cc6f);
    h.w8(0x1234 + 0x05, 0x77);
    h.exec([0x67, 0xd7], { [EAX]: 5, [EBX]: 0xffff_1234 });
    expect(h.eax & 0xff).toBe(0x77);
    h.setSeg(4, 0x30000, 0xffff);
    h.w8(0x30010 + 0x80, 0x42);
    h.exec([0x64, 0xd7], { [EAX]: 0x80, [EBX]: 0x10 });
    expect(h.eax & 0xff).toBe(0x42);
    h.setSeg(4, 0, 0xffffffff);
  });
  it('mov eax, moffs32 / mov moffs16, ax (67: 16-bit offset)', () => {
    h.w32(DATA, 0x89abcdef);
    h.exec([0xa1, ...le32(DATA)]);
    expect(h.eax).toBe(0x89abcdef);
    h.exec([0x67, 0x66, 0xa3, ...le16(0x1230)], { [EAX]: 0x5555_beef });
    expect(h.r16(0x1230)).toBe(0xbeef);
  });
  it('xchg forms and salc', () => {
    h.exec([0x91, 0x87, 0xd3], { [EAX]: 1, [ECX]: 2, [EDX]: 3, [EBX]: 4 }); // xchg eax,ecx ; xchg ebx,edx
    expect([h.eax, h.ecx, h.edx, h.ebx]).toEqual([2, 1, 4, 3]);
    h.exec([0x86, 0xe0], { [EAX]: 0x1234 }); // xchg al, ah
    expect(h.eax).toBe(0x3412);
    h.exec([0xd6], { [EAX]: 0x1234 }, CF);
    expect(h.eax).toBe(0x12ff);
  });
});

describe('CPUID', () => {
  const h = new Harness().flat32([0xf4]);
  it('leaf 0: max leaf and vendor GenuineIntel in EBX EDX ECX', () => {
    h.exec([0x0f, 0xa2], { [EAX]: 0 });
    expect(h.eax).toBeGreaterThanOrEqual(1);
    const s = [h.ebx, h.edx, h.ecx].map((v) => String.fromCharCode(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24)).join('');
    expect(s).toBe('GenuineIntel');
  });
  it('leaf 1: family 6 signature and exactly the feature bits cpuid.ts reports', () => {
    h.exec([0x0f, 0xa2], { [EAX]: 1 });
    expect((h.eax >>> 8) & 0xf).toBe(6);
    expect(h.eax).toBe(SIGNATURE);
    expect(h.edx).toBe(leaf1Edx(h.cpu.cpuidPolicy()));
    // No FPU or APIC attached to this bare CPU: DE PSE TSC MSR PAE CX8 SEP PGE CMOV.
    expect(h.edx).toBe(0x0000a97c);
    expect(h.ecx).toBe(0);
  });
  it('brand string leaves 0x80000002-4', () => {
    let s = '';
    for (const leaf of [0x80000002, 0x80000003, 0x80000004]) {
      h.exec([0x0f, 0xa2], { [EAX]: leaf });
      for (const v of [h.eax, h.ebx, h.ecx, h.edx]) for (let k = 0; k < 4; k++) s += String.fromCharCode((v >>> (8 * k)) & 0xff);
    }
    expect(s.replace(/\0+$/, '')).toBe(BRAND);
  });
  it('leaf 1 reports FPU and APIC only when attached', () => {
    const g = new Harness().flat32([0xf4]);
    g.cpu.fpu = { reset() {}, exec() {}, fwait() {} };
    g.cpu.hasApic = true;
    g.cpu.apicId = 3;
    g.exec([0x0f, 0xa2], { [EAX]: 1 });
    expect(g.edx).toBe((0x0000a97c | 1 | (1 << 9)) >>> 0);
    expect(g.ebx >>> 24).toBe(3);
  });
  // SDM Vol.2A FXSAVE: #UD only if CPUID.01H:EDX.FXSR[bit 24] = 0 (or CR0.EM = 1).
  it('FXSAVE does not #UD when CPUID advertises FXSR', () => {
    const g = new Harness().flat32([0xf4]);
    let saved = -1;
    g.cpu.fpu = { reset() {}, exec() {}, fwait() {}, hasFxsr: true, fxsave: (_h, _s, off) => { saved = off; }, fxrstor() {} };
    g.exec([0x0f, 0xa2], { [EAX]: 1 });
    expect(g.edx & (1 << 24)).toBe(1 << 24);
    g.exec([0x0f, 0xae, 0x03], { [EBX]: DATA }); // fxsave [ebx] (DATA is 16-byte aligned)
    expect(saved).toBe(DATA);
  });
  // SDM Vol.3A §9.1.4 / Table 9-1: EDX after reset = the processor signature (same as CPUID.1:EAX).
  it('EDX after RESET equals the CPUID leaf-1 signature', () => {
    const cpu = new Cpu(new PhysMemory(1 << 20), new FakeIo());
    cpu.reset();
    expect(cpu.r32[EDX] >>> 0).toBe(SIGNATURE);
  });
});

describe('RDTSC / RDMSR / WRMSR', () => {
  const h = new Harness().flat32([0xf4]);
  it('rdtsc advances by the number of retired instructions', () => {
    // rdtsc ; mov esi, eax ; nop x5 ; rdtsc
    h.exec([0x0f, 0x31, 0x89, 0xc6, 0x90, 0x90, 0x90, 0x90, 0x90, 0x0f, 0x31]);
    expect((h.eax - h.esi) >>> 0).toBe(7);
    const t1 = BigInt(h.edx) << 32n | BigInt(h.eax);
    h.exec([0x0f, 0x31]);
    const t2 = BigInt(h.edx) << 32n | BigInt(h.eax);
    expect(t2 > t1).toBe(true);
  });
  it('wrmsr IA32_TSC sets the counter (the next rdtsc reads value + elapsed)', () => {
    h.exec([0x0f, 0x30, 0x0f, 0x31], { [ECX]: 0x10, [EAX]: 0xfffffff0, [EDX]: 5 });
    expect(h.edx).toBe(5);
    expect(h.eax).toBe(0xfffffff1);
  });
  it('SYSENTER_CS/ESP/EIP round-trip through wrmsr/rdmsr', () => {
    for (const [msr, v] of [[0x174, 0x0008], [0x175, 0xc0ffee00], [0x176, 0xdeadbeef]] as const) {
      h.exec([0x0f, 0x30, 0x31, 0xc0, 0x31, 0xd2, 0x0f, 0x32], { [ECX]: msr, [EAX]: v, [EDX]: 0 }); // wrmsr ; xor eax,eax ; xor edx,edx ; rdmsr
      expect(h.eax, `msr ${msr.toString(16)}`).toBe(v);
      expect(h.edx).toBe(0);
    }
  });
  for (const [name, code] of [['rdmsr', [0x0f, 0x32]], ['wrmsr', [0x0f, 0x30]]] as const) {
    it(`${name} of an unknown MSR is #GP(0) at the instruction`, () => {
      h.prepare(code, { [ECX]: 0x0badc0de, [EAX]: 0x1234, [EDX]: 0x5678 });
      const f = h.runToFault();
      expect(f.vector).toBe(GP);
      expect(f.err).toBe(0);
      expect(f.eip).toBe(CODE);
      expect(h.eax).toBe(0x1234);
      expect(h.edx).toBe(0x5678);
    });
  }
});
