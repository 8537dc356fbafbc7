// The vCPU's CPUID table for KVM_SET_CPUID2, from the same policy the interpreter
// answers CPUID with (src/cpu/cpuid.ts), so a guest sees one CPU whichever backend runs
// it. Feature bits the host's KVM cannot provide (KVM_GET_SUPPORTED_CPUID) are masked
// off rather than promised: KVM would not emulate them. Without KVM_SET_CPUID2 the vCPU
// reports an empty CPUID (observed on this project's PVM host).
import { cpuid, type CpuidPolicy } from '../../cpu/cpuid';
import { SIZEOF_CPUID_ENTRY2 } from './abi';

export interface CpuidEntry { fn: number; index: number; flags: number; eax: number; ebx: number; ecx: number; edx: number }

/** The leaves ts86 defines (cpu/cpuid.ts): 0, 1 and 0x80000000-0x80000004, 0x80000008. */
const LEAVES = [0, 1, 0x80000000, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000008];

export function policyEntries(p: CpuidPolicy, supported?: CpuidEntry[]): CpuidEntry[] {
  const sup = (fn: number): CpuidEntry | undefined => supported?.find((e) => e.fn === fn && e.index === 0);
  return LEAVES.map((fn) => {
    const [eax, ebx, ecx, edx] = cpuid(p, fn, 0);
    const e: CpuidEntry = { fn, index: 0, flags: 0, eax, ebx, ecx, edx };
    // Feature words only (leaf 1 ECX/EDX, leaf 0x80000001 ECX/EDX): never claim what KVM lacks.
    const s = supported ? sup(fn) : undefined;
    if (supported && (fn === 1 || fn === 0x80000001)) {
      e.ecx = (e.ecx & (s?.ecx ?? 0)) >>> 0;
      e.edx = (e.edx & (s?.edx ?? 0)) >>> 0;
    }
    // KVM rejects a table whose linear-address width is not 0, 48 or 57 (kvm_check_cpuid
    // in arch/x86/kvm/cpuid.c): report 48 there, the width every x86-64 host has. Only
    // this field differs from the interpreter's answer; a 32-bit guest has no use for it.
    if (fn === 0x80000008) e.eax = ((e.eax & ~0xff00) | (48 << 8)) >>> 0;
    return e;
  });
}

/** struct kvm_cpuid2 { u32 nent, padding; kvm_cpuid_entry2 entries[] }. */
export function encodeCpuid2(entries: CpuidEntry[]): Uint8Array {
  const buf = new Uint8Array(8 + entries.length * SIZEOF_CPUID_ENTRY2);
  const v = new DataView(buf.buffer);
  v.setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    const at = 8 + i * SIZEOF_CPUID_ENTRY2;
    v.setUint32(at, e.fn >>> 0, true);
    v.setUint32(at + 4, e.index >>> 0, true);
    v.setUint32(at + 8, e.flags >>> 0, true);
    v.setUint32(at + 12, e.eax >>> 0, true);
    v.setUint32(at + 16, e.ebx >>> 0, true);
    v.setUint32(at + 20, e.ecx >>> 0, true);
    v.setUint32(at + 24, e.edx >>> 0, true);
  });
  return buf;
}

export function decodeCpuid2(buf: Uint8Array): CpuidEntry[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = v.getUint32(0, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n && 8 + (i + 1) * SIZEOF_CPUID_ENTRY2 <= buf.byteLength; i++) {
    const at = 8 + i * SIZEOF_CPUID_ENTRY2;
    out.push({ fn: v.getUint32(at, true), index: v.getUint32(at + 4, true), flags: v.getUint32(at + 8, true),
      eax: v.getUint32(at + 12, true), ebx: v.getUint32(at + 16, true), ecx: v.getUint32(at + 20, true), edx: v.getUint32(at + 24, true) });
  }
  return out;
}
