// CPUID: reports exactly what ts86 implements (SDM Vol.2A CPUID, Table 3-8 ff).

export interface CpuidPolicy {
  /** An x87 unit is attached (FPU bit). */
  fpu: boolean;
  /** FXSAVE/FXRSTOR are implemented (FXSR bit). */
  fxsr: boolean;
  /** A local APIC is wired (APIC bit). */
  apic: boolean;
  /** Initial APIC ID of this CPU. */
  apicId: number;
}

export const VENDOR = 'GenuineIntel';
export const BRAND = 'ts86 virtual i686 CPU';
/** Family 6, model 1, stepping 1: a Pentium Pro-class P6 core (i686). */
export const SIGNATURE = (6 << 8) | (1 << 4) | 1;

// Leaf 1 EDX bits.
export const FEAT_FPU = 1 << 0, FEAT_DE = 1 << 2, FEAT_PSE = 1 << 3, FEAT_TSC = 1 << 4, FEAT_MSR = 1 << 5, FEAT_PAE = 1 << 6;
export const FEAT_CX8 = 1 << 8, FEAT_APIC = 1 << 9, FEAT_SEP = 1 << 11, FEAT_PGE = 1 << 13, FEAT_CMOV = 1 << 15, FEAT_FXSR = 1 << 24;
/** Leaf 0x80000001 EDX: NX (execute disable, with PAE). */
export const FEAT_NX = 1 << 20;

function str4(s: string, k: number): number {
  let v = 0;
  for (let j = 0; j < 4; j++) v |= (s.charCodeAt(k + j) || 0) << (8 * j);
  return v >>> 0;
}

export function leaf1Edx(p: CpuidPolicy): number {
  let d = FEAT_DE | FEAT_PSE | FEAT_TSC | FEAT_MSR | FEAT_PAE | FEAT_CX8 | FEAT_SEP | FEAT_PGE | FEAT_CMOV;
  if (p.fpu) d |= FEAT_FPU;
  if (p.fxsr) d |= FEAT_FXSR;
  if (p.apic) d |= FEAT_APIC;
  return d >>> 0;
}

/** Returns [EAX, EBX, ECX, EDX] for leaf/subleaf. Unknown leaves answer like the highest basic leaf (SDM). */
export function cpuid(p: CpuidPolicy, leaf: number, _sub: number): [number, number, number, number] {
  if (leaf >= 0x80000000) {
    const brand = BRAND.padEnd(48, '\0');
    switch (leaf) {
      case 0x80000000: return [0x80000008, 0, 0, 0];
      case 0x80000001: return [0, 0, 0, FEAT_NX];
      case 0x80000002: case 0x80000003: case 0x80000004: {
        const k = (leaf - 0x80000002) * 16;
        return [str4(brand, k), str4(brand, k + 4), str4(brand, k + 8), str4(brand, k + 12)];
      }
      // Address sizes: 32 physical bits (PAE entries above 4 GiB are reserved here), 32 linear bits.
      case 0x80000008: return [0x2020, 0, 0, 0];
      default: leaf = 1;
    }
  }
  switch (leaf) {
    case 0: return [1, str4(VENDOR, 0), str4(VENDOR, 8), str4(VENDOR, 4)];
    default:
      // EBX: initial APIC ID in bits 31-24, one logical processor; CLFLUSH size not reported.
      return [SIGNATURE, (p.apicId & 0xff) << 24, 0, leaf1Edx(p)];
  }
}
