// `--accel auto`: is KVM usable here, and for which guests? Opening /dev/kvm is not
// enough (a container may expose a node that fails later), so the probe builds real
// VMs: one page holding HLT, run in real mode, must give a HLT exit; then the same HLT
// in 32-bit protected mode with 32-bit paging (4 MiB PSE identity page), which every
// i686 kernel needs. Some software KVMs (PVM, this project's development host) silently
// drop CR0.PG in KVM_SET_SREGS without long mode and shut the guest down when it sets
// PG itself (see README "KVM"); `auto` does not pick such a KVM, `--accel kvm` still can.
import { ExitKind } from '../exit';
import { loadShim, type KvmShim } from './shim';
import { KvmError, KvmVm } from './vm';
import { SREGS } from './abi';
import { writeSegment } from './state';

export interface KvmProbe {
  /** KVM runs a real-mode guest. */
  ok: boolean;
  /** KVM also runs a 32-bit protected-mode guest with paging. */
  paging32: boolean;
  /** One line: why not, or what ran. */
  reason: string;
}

let cached: KvmProbe | undefined;

export function probeKvm(path = '/dev/kvm'): KvmProbe {
  if (cached && path === '/dev/kvm') return cached;
  const r = probeOnce(path);
  if (path === '/dev/kvm') cached = r;
  return r;
}

function withVm<T>(shim: KvmShim, path: string, body: (vm: KvmVm, mem: Uint8Array) => T): T {
  const vm = new KvmVm(shim, { kernelIrqchip: false }, path);
  try {
    vm.setupPlatform();
    const mem = new Uint8Array(shim.mmap(0x2000, 3, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0));
    mem[0] = 0xf4; // hlt
    vm.mapMemory(0, 0, mem);
    vm.createVcpu();
    return body(vm, mem);
  } finally {
    vm.close();
  }
}

function startAt0(vm: KvmVm): void {
  const regs = vm.getRegs();
  regs.setBigUint64(128, 0n, true); // rip
  regs.setBigUint64(136, 2n, true); // rflags
  vm.setRegs();
}

function probeOnce(path: string): KvmProbe {
  const shim = loadShim();
  if (typeof shim === 'string') return { ok: false, paging32: false, reason: shim };
  try {
    const real = withVm(shim, path, (vm) => {
      const s = vm.getSregs();
      for (const at of [SREGS.CS, SREGS.DS, SREGS.ES, SREGS.SS]) { s.setBigUint64(at, 0n, true); s.setUint16(at + 12, 0, true); }
      vm.setSregs();
      startAt0(vm);
      const x = vm.runOnce(1e9);
      return x.kind === ExitKind.Halt ? '' : `the real-mode probe VM did not halt (exit reason ${x.code})`;
    });
    if (real) return { ok: false, paging32: false, reason: real };
  } catch (e) {
    return { ok: false, paging32: false, reason: e instanceof KvmError ? e.message : `KVM probe failed: ${(e as Error).message}` };
  }
  try {
    const paged = withVm(shim, path, (vm, mem) => {
      new DataView(mem.buffer).setUint32(0x1000, 0x83, true); // PDE 0: 4 MiB page at 0, present, writable
      const s = vm.getSregs();
      const code = 0x80 | 0x10 | 0x0b | 0x4000 | 0x8000, data = 0x80 | 0x10 | 0x03 | 0x4000 | 0x8000;
      writeSegment(s, SREGS.CS, 0x08, 0, 0xffffffff, code, false);
      for (const at of [SREGS.DS, SREGS.ES, SREGS.SS, SREGS.FS, SREGS.GS]) writeSegment(s, at, 0x10, 0, 0xffffffff, data, false);
      writeSegment(s, SREGS.TR, 0, 0, 0xffff, 0x8b, false);
      s.setBigUint64(SREGS.CR3, 0x1000n, true);
      s.setBigUint64(SREGS.CR4, 0x10n, true); // PSE
      s.setBigUint64(SREGS.CR0, 0x80000011n, true); // PG | ET | PE
      vm.setSregs();
      if (!(Number(vm.getSregs().getBigUint64(SREGS.CR0, true)) & 0x80000000)) return 'KVM_SET_SREGS dropped CR0.PG: this KVM cannot run 32-bit paged guests';
      startAt0(vm);
      const x = vm.runOnce(1e9);
      return x.kind === ExitKind.Halt ? '' : `a 32-bit paged probe VM did not halt (exit reason ${x.code})`;
    });
    return paged ? { ok: true, paging32: false, reason: paged } : { ok: true, paging32: true, reason: 'KVM probe VMs ran' };
  } catch (e) {
    return { ok: true, paging32: false, reason: e instanceof KvmError ? e.message : `32-bit paging probe failed: ${(e as Error).message}` };
  }
}
