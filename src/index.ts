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
