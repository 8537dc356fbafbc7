// The ts86 library: everything the CLI can do is a library call.
export { Cpu, CpuFault, GuestError, type CpuOptions } from './cpu/cpu';
export { Exit, type PortIo, type MmioIo, type InterruptLine, type MsrHandler, type AccessSize } from './cpu/interfaces';
export { PhysMemory } from './mmu/physmem';
export { TABLE, type OpDef } from './cpu/table';
export { cpuid, type CpuidPolicy } from './cpu/cpuid';
export { Machine, MachineError, DEFAULT_CMDLINE, type MachineConfig, type RunOutcome, type StopReason } from './machine/machine';
export { AioContext } from './aio/aio-context';
export { HostClock, VirtualClock } from './aio/clock';
export { BufferCharBackend, ScriptedCharBackend, type CharBackend } from './devices/chardev';
export { X87 } from './cpu/fpu/x87';
export { disassemble, disassembleOne } from './debug/disasm';
// Deterministic runs, snapshots and the test API (README "Library API").
export { createMachine, restoreMachine, runSerialScript, startSerialScript, embeddedGuestFiles, type CreateMachineOptions } from './machine/api';
export { SerialConsole, type SerialMatch, type SerialPattern, type WaitForOptions } from './machine/serial-console';
export { parseSerialScript, SerialScriptError, type ScriptStep } from './machine/serial-script';
export { SnapshotError, SNAPSHOT_FORMAT_VERSION, decodeSnapshot, type Snapshot, type SnapshotHeader } from './machine/snapshot-format';
export { SeededRandom } from './machine/seeded-random';
export { saveCpuState, loadCpuState, type CpuState } from './cpu/cpu-state';
export { DEFAULT_IPS, DEFAULT_RTC_BASE } from './machine/machine';
