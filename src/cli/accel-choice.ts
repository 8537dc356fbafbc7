// `--accel auto|interp|kvm` and `--irqchip`: which backend runs the guest, and the
// banner note saying so. KVM is probed (accel/kvm/probe.ts) only when asked for, so the
// interpreter never loads the native shim.
import { probeKvm } from '../accel/kvm/probe';
import { UserError } from './errors';

export interface AccelRequest {
  accel: string;
  irqchip: string;
  /** Options only the interpreter supports, by flag name (e.g. "--gdb"). */
  interpOnly: string[];
}

export interface AccelChoice { accel: 'interp' | 'kvm'; note: string }

export function chooseAccel(r: AccelRequest): AccelChoice {
  if (r.irqchip !== 'user' && r.irqchip !== 'kernel') throw new UserError(`--irqchip ${r.irqchip}: use user or kernel`);
  if (r.accel === 'interp') return { accel: 'interp', note: 'interp' };
  if (r.accel === 'kvm') {
    if (r.interpOnly.length) throw new UserError(`--accel kvm: ${r.interpOnly.join(', ')} needs the interpreter (use --accel interp)`);
    const p = probeKvm();
    if (!p.ok) throw new UserError(`--accel kvm: KVM is not usable here: ${p.reason}`);
    return { accel: 'kvm', note: `kvm, irqchip ${r.irqchip}${p.paging32 ? '' : ' (no 32-bit paging on this host)'}` };
  }
  if (r.interpOnly.length) return { accel: 'interp', note: `interp (${r.interpOnly.join(', ')} needs the interpreter)` };
  const p = probeKvm();
  if (p.ok && p.paging32) return { accel: 'kvm', note: `kvm (auto), irqchip ${r.irqchip}` };
  return { accel: 'interp', note: `interp (auto: ${p.ok ? p.reason : `no KVM: ${p.reason}`})` };
}
