// State hashes: one SHA-256 over everything a guest can observe — RAM, the CPU's
// architectural state (lazy flags materialised, so equal states hash equally), every
// device's named state, the machine clock and the device PRNG. Two runs with equal
// hashes at the same instruction count are in the same state; `--trace-hash N`
// prints one every N instructions so two diverging runs can be bisected.
import { createHash } from 'node:crypto';
import type { CpuState } from '../cpu/cpu-state';
import type { DeviceState } from '../devices/device';

export interface HashedState {
  cpu: CpuState;
  devices: Record<string, DeviceState>;
  clockNs: number;
  rng: number[];
  a20: boolean;
}

/**
 * `ram` null gives the cheap variant (CPU, devices, clock; no RAM): a divergence in
 * memory shows up there as soon as the guest reads the differing bytes.
 */
export function hashState(s: HashedState, ram: Uint8Array | null): string {
  const h = createHash('sha256');
  h.update('ts86-state-v1\n');
  h.update(JSON.stringify({ cpu: s.cpu, devices: s.devices, clockNs: s.clockNs, rng: s.rng, a20: s.a20 }));
  if (ram) h.update(ram);
  return h.digest('hex');
}

/** A hash chained over successive state hashes: equal chains mean the runs never differed at any sample. */
export function chainHash(previous: string, current: string): string {
  return createHash('sha256').update(previous).update(current).digest('hex');
}
