// Capturing and restoring a whole Machine: the glue between the Machine, the CPU
// state (cpu/cpu-state.ts), the devices' named versioned states and the file
// format (snapshot-format.ts).
import { saveCpuState, loadCpuState, validateCpuState } from '../cpu/cpu-state';
import { X87 } from '../cpu/fpu/x87';
import { VirtualClock } from '../aio/clock';
import type { Machine } from './machine';
import { encodeSnapshot, SnapshotError, type Snapshot, type SnapshotHeader } from './snapshot-format';
import type { HashedState } from './state-hash';

const VERSION = '0.1.0';

export function machineHashedState(m: Machine): HashedState {
  return {
    cpu: saveCpuState(m.cpu),
    devices: m.platform.saveState(),
    clockNs: m.clock.now(),
    rng: m.random.saveState(),
    a20: m.platform.a20.enabled,
  };
}

export function captureSnapshot(m: Machine): Uint8Array {
  const c = m.config;
  const header: SnapshotHeader = {
    format: 'ts86-snapshot',
    createdBy: `ts86 ${VERSION}`,
    config: {
      memMiB: c.memMiB, cpus: c.cpus ?? 1, cmdline: m.cmdline, deterministic: c.deterministic === true,
      ips: m.clock instanceof VirtualClock ? m.clock.instructionsPerSecond : (c.ips ?? 100_000_000),
      seed: m.seed, rtcEpochSeconds: m.rtcEpochSeconds,
      serialTiming: c.serialTiming ?? 'fast', quantum: c.quantum ?? 200_000,
      kernelPath: c.kernel.path, describe: m.config.restore ? m.config.restore.header.config.describe : m.loaded.describe,
    },
    clock: {
      kind: m.clock instanceof VirtualClock ? 'virtual' : 'host',
      nowNs: m.clock.now(),
      offsetNs: m.clock instanceof VirtualClock ? m.clock.saveState().offsetNs : 0,
    },
    cpu: saveCpuState(m.cpu),
    devices: m.platform.saveState(),
    machine: {
      a20: m.platform.a20.enabled, panicSeen: m.panicSeen, consoleTail: m.consoleTail,
      rng: m.random.saveState(), serialBytes: m.serial.bytesWritten,
    },
  };
  return encodeSnapshot(header, m.mem.ram);
}

/**
 * Writes a decoded snapshot into a freshly built machine (called from the Machine
 * constructor, so a failure here means no machine at all, never a half-restored one).
 * Everything that can be checked is checked before the first change.
 */
export function applySnapshot(m: Machine, snap: Snapshot): void {
  const h = snap.header;
  // 1. Check: the CPU state, and the device set with each device's schema version.
  const why = validateCpuState(h.cpu, m.cpu.fpu instanceof X87);
  if (why) throw new SnapshotError(`cannot restore: ${why}`);
  const mine = m.platform.saveState();
  for (const [name, st] of Object.entries(mine)) {
    const theirs = h.devices[name];
    if (!theirs) throw new SnapshotError(`cannot restore: the snapshot has no state for device ${name} (${st.device} v${st.version})`);
    if (theirs.device !== st.device) throw new SnapshotError(`cannot restore: device ${name} holds ${theirs.device} state, this machine has ${st.device}`);
    if (theirs.version !== st.version) throw new SnapshotError(`cannot restore: device ${name} state is version ${theirs.version}; this ts86 reads version ${st.version} and has no converter`);
  }
  for (const name of Object.keys(h.devices)) if (!(name in mine)) throw new SnapshotError(`cannot restore: the snapshot has device ${name}, which this machine does not have`);
  if (snap.ram.length !== m.mem.ram.length) throw new SnapshotError(`cannot restore: ${snap.ram.length} bytes of RAM for a ${m.mem.ram.length}-byte machine`);
  if (h.clock.kind === 'virtual' && !(m.clock instanceof VirtualClock)) throw new SnapshotError('cannot restore: a deterministic snapshot needs a deterministic machine');

  // 2. Apply: RAM, then CPU (its instruction count drives the virtual clock), the
  // clock, then the devices (their loadState re-arms timers against that clock).
  m.mem.ram.set(snap.ram);
  loadCpuState(m.cpu, h.cpu);
  if (m.clock instanceof VirtualClock) m.clock.loadState({ offsetNs: h.clock.offsetNs });
  if (m.clock.now() !== h.clock.nowNs) throw new SnapshotError(`cannot restore: the clock reads ${m.clock.now()} ns after restore, the snapshot says ${h.clock.nowNs}`);
  m.platform.a20.set(h.machine.a20);
  try {
    m.platform.loadState(h.devices);
  } catch (e) {
    throw new SnapshotError(`cannot restore: ${(e as Error).message}`);
  }
  m.cpu.a20Mask = h.machine.a20 ? 0xffffffff : 0xffefffff;
  m.cpu.flushTlb(true);
  m.cpu.flushCodeCache();
  m.random.loadState(h.machine.rng);
  m.panicSeen = h.machine.panicSeen;
  m.consoleTail = h.machine.consoleTail;
}
