// Which table instructions the lockstep harness generates and executes, and why the
// rest are left out. Each exclusion says why comparing it one instruction at a time
// against KVM single-step would not be a faithful comparison (or would change the
// machine so that later steps compare nothing). The harness never *executes* an
// excluded instruction either: when a jump lands on one, the stream ends there.
import type { OpDef } from '../../cpu/table';

export type LockstepMode = 'real' | 'pm32';

/** Opcode (0x1xx = 0F xx) -> reason, for every mode. */
const EXCLUDED: Record<number, string> = {};
function ex(codes: number[], why: string): void { for (const c of codes) EXCLUDED[c] = why; }

ex([0x6c, 0x6d, 0x6e, 0x6f, 0xe4, 0xe5, 0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef],
  'port I/O leaves the CPU: under single-step KVM reports an OUT as the I/O exit itself and an IN as an exit then a debug exit; devices have side effects. Port I/O is covered by the fixture tests under --accel kvm');
ex([0xf4], 'HLT: under KVM single-step it gives a debug exit after the HLT and runs on (no halt), while the interpreter halts');
ex([0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x9b, 0x1ae],
  'x87/FXSAVE: FPU state is not part of the compared state (the x87 is compared bit for bit with the host FPU in test/fpu), and PVM runs non-paged protected mode in KVM\'s instruction emulator, which has no x87');
ex([0x1a2], 'CPUID: the tables differ by design in leaf 0x80000008 (KVM insists on a 48-bit linear width); the table is unit-tested in test/accel/kvm-abi.test.ts');
ex([0x131, 0x133], 'RDTSC/RDPMC read host counters that differ on every run');
ex([0x130, 0x132], 'RDMSR/WRMSR: the host KVM\'s MSR set is not the interpreter\'s (and WRMSR changes machine state beyond the compared registers)');
ex([0x134, 0x135], 'SYSENTER/SYSEXIT switch privilege level from MSR state the harness does not set');
ex([0x100, 0x101, 0x102, 0x103, 0x106, 0x108, 0x109, 0x120, 0x121, 0x122, 0x123],
  'system instructions (SLDT/LTR/LGDT/LIDT/LMSW/SMSW/LAR/LSL/CLTS/INVD/WBINVD/MOV CR/DR, …) change or expose the mode, the descriptor tables or control registers that KVM holds differently (CR0.ET/NE, hidden host bits); a changed IDT/GDT would also break fault delivery for the rest of the stream');
ex([0xf1], 'INT1/ICEBP raises #DB, the very exception KVM uses for single-step, so the two cannot be told apart');

/** Mode-specific exclusions. */
const EXCLUDED_PM32: Record<number, string> = {
  0xcc: 'INT3 in protected mode: PVM runs non-paged protected mode in KVM\'s instruction emulator, which cannot deliver software interrupts there (KVM_EXIT_INTERNAL_ERROR)',
  0xcd: 'INT n in protected mode: as INT3',
  0xce: 'INTO in protected mode: as INT3',
  0xcf: 'IRET in protected mode: KVM\'s instruction emulator implements only the real-mode IRET',
};

export function exclusionReason(d: OpDef, mode: LockstepMode): string | null {
  if (d.fpu) return EXCLUDED[0xd8]!;
  return EXCLUDED[d.code] ?? (mode === 'pm32' ? EXCLUDED_PM32[d.code] ?? null : null);
}

/** Every exclusion with its reason, for the report. */
export function exclusionList(mode: LockstepMode): string[] {
  const all = { ...EXCLUDED, ...(mode === 'pm32' ? EXCLUDED_PM32 : {}) };
  const byReason = new Map<string, number[]>();
  for (const [c, why] of Object.entries(all)) byReason.set(why, [...(byReason.get(why) ?? []), Number(c)]);
  return [...byReason].map(([why, codes]) => `${codes.map((c) => (c >= 0x100 ? `0F ${(c & 0xff).toString(16).padStart(2, '0')}` : c.toString(16).padStart(2, '0'))).join(' ')}: ${why}`);
}
