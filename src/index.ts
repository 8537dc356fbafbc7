// The ts86 library: everything the CLI can do is a library call.
export { Cpu, CpuFault, GuestError, type CpuOptions } from './cpu/cpu';
export { Exit, type PortIo, type MmioIo, type InterruptLine, type MsrHandler, type AccessSize } from './cpu/interfaces';
export { PhysMemory } from './mmu/physmem';
export { TABLE, type OpDef } from './cpu/table';
export { cpuid, type CpuidPolicy } from './cpu/cpuid';
