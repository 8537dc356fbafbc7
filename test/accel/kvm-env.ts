// Whether the KVM tests can run here, and why not (they skip with that reason).
import { loadShim } from '../../src/accel/kvm/shim';
import { probeKvm, type KvmProbe } from '../../src/accel/kvm/probe';

export const shim = loadShim();
export const shimReason = typeof shim === 'string' ? shim : '';
export const kvm: KvmProbe = typeof shim === 'string' ? { ok: false, paging32: false, reason: shim } : probeKvm();
if (!kvm.ok) console.warn(`KVM tests skipped: ${kvm.reason}`);
