// The only things the CPU core knows about the world outside it. Devices implement
// these; the CPU never imports from src/devices (see DESIGN.md, "The map").

export type AccessSize = 1 | 2 | 4;

/** Port I/O as the CPU issues it (IN/OUT/INS/OUTS). Values are unsigned, `size` bytes wide. */
export interface PortIo {
  ioRead(port: number, size: AccessSize): number;
  ioWrite(port: number, size: AccessSize, value: number): void;
}

/**
 * Memory-mapped I/O for physical addresses that are not RAM. `addr` is a physical
 * address; accesses never cross the region they were routed to (PhysMemory splits).
 */
export interface MmioIo {
  mmioRead(addr: number, size: AccessSize): number;
  mmioWrite(addr: number, size: AccessSize, value: number): void;
}

/**
 * The CPU's INTR pin and INTA cycle. The CPU asks `pending()` at instruction
 * boundaries when EFLAGS.IF=1 and no interrupt shadow is active, then calls `ack()`
 * for the vector (the PIC or the local APIC answers).
 */
export interface InterruptLine {
  pending(): boolean;
  ack(): number;
}

/** Model-specific registers the CPU forwards (e.g. IA32_APIC_BASE to the local APIC). */
export interface MsrHandler {
  /** Returns [lo, hi] or null when this handler does not own `msr`. */
  rdmsr(msr: number): [number, number] | null;
  /** Returns true when handled. */
  wrmsr(msr: number, lo: number, hi: number): boolean;
}

/** Why `Cpu.run` returned. */
export const enum Exit {
  /** The instruction budget ran out. */
  Budget = 0,
  /** HLT with no interrupt to wake it. */
  Halt = 1,
  /** Triple fault or a shutdown cycle: the machine must reset. */
  Shutdown = 2,
  /** The guest did something no supported hardware mode allows; see Cpu.guestError. */
  GuestError = 3,
  /** An execution breakpoint or single-step requested by the debugger. */
  Debug = 4,
  /** Somebody called Cpu.requestStop(). */
  Stopped = 5,
}
