// `--accel auto`: is KVM usable here? Opening /dev/kvm is not enough (a container may
// expose a node that fails later, a host may refuse VMs), so the probe builds a real VM
// with one page of RAM holding a HLT, runs it in real mode, and expects a HLT exit.
import { ExitKind } from '../exit';
import { loadShim } from './shim';
import { KvmError, KvmVm } from './vm';
import { SREGS } from './abi';

export interface KvmProbe { ok: boolean; reason: string }

let cached: KvmProbe | undefined;

export function probeKvm(path = '/dev/kvm'): KvmProbe {
  if (cached && path === '/dev/kvm') return cached;
  const r = probeOnce(path);
  if (path === '/dev/kvm') cached = r;
  return r;
}

function probeOnce(path: string): KvmProbe {
  const shim = loadShim();
  if (typeof shim === 'string') return { ok: false, reason: shim };
  let vm: KvmVm | null = null;
  try {
    vm = new KvmVm(shim, { kernelIrqchip: false }, path);
    vm.setupPlatform();
    const page = new Uint8Array(shim.mmap(4096, 3, 0x22, -1, 0));
    page[0] = 0xf4; // hlt
    vm.mapMemory(0, 0, page);
    vm.createVcpu();
    const s = vm.getSregs();
    for (const at of [SREGS.CS, SREGS.DS, SREGS.ES, SREGS.SS]) { s.setBigUint64(at, 0n, true); s.setUint16(at + 12, 0, true); }
    vm.setSregs();
    const regs = vm.getRegs();
    regs.setBigUint64(128, 0n, true); // rip
    regs.setBigUint64(136, 2n, true); // rflags
    vm.setRegs();
    const x = vm.runOnce(1e9);
    if (x.kind !== ExitKind.Halt) return { ok: false, reason: `the probe VM did not halt (exit reason ${x.code})` };
    return { ok: true, reason: 'KVM probe VM ran' };
  } catch (e) {
    return { ok: false, reason: e instanceof KvmError ? e.message : `KVM probe failed: ${(e as Error).message}` };
  } finally {
    vm?.close();
  }
}
