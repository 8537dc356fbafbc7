// Why did KVM shut the vCPU down? On hosts whose KVM cannot run 32-bit paging (PVM, see
// the README's KVM section) a guest that sets CR0.PG outside long mode gets
// KVM_EXIT_SHUTDOWN at that MOV CR0, which looks like a triple fault in the guest. When
// the vCPU stopped at exactly such an instruction, say so and name the way out, instead
// of leaving the user with a register dump of a healthy guest.
import type { Cpu } from '../../cpu/cpu';
import { CS } from '../../cpu/consts';

const CR0_PG = 0x8000_0000;
const EFER_LME = 0x100;

/**
 * A clause to append to the shutdown message, or '' when the stop is not the known
 * 32-bit-paging limitation. `cpu` holds the vCPU's state at the shutdown. A KVM that runs
 * 32-bit paging never stops here: there the MOV CR0 completes (CR0.PG set, EIP past it)
 * and any later triple fault shows a different state.
 */
export function shutdownHint(cpu: Cpu): string {
  if ((cpu.efer & EFER_LME) !== 0 || (cpu.cr0 & CR0_PG) !== 0) return '';
  // Paging is off here, so the instruction's linear address is its physical address.
  const at = (cpu.segBase[CS] + cpu.eip) >>> 0;
  // MOV CR0, r32 is 0F 22 /r with mod = 11 and reg = 0 (SDM Vol. 2B, MOV—Move to/from Control Registers).
  if (cpu.mem.read8(at) !== 0x0f || cpu.mem.read8((at + 1) >>> 0) !== 0x22) return '';
  const modrm = cpu.mem.read8((at + 2) >>> 0);
  if ((modrm & 0xf8) !== 0xc0) return '';
  if ((cpu.r32[modrm & 7] & CR0_PG) === 0) return '';
  return ': the guest was enabling 32-bit paging (MOV CR0 with PG set), which this host\'s KVM cannot run; use --accel interp';
}
