// A vCPU exit as a plain value, and the one function that handles it. The KVM backend
// decodes kvm_run into a VcpuExit (kvm/exit-decode.ts); tests build them by hand. The
// handler only talks to the bus (PortIo + MmioIo), so port and MMIO accesses reach the
// very same device handlers the interpreter calls synchronously (DESIGN.md "The run loop").
import type { AccessSize, MmioIo, PortIo } from '../cpu/interfaces';

export const enum ExitKind {
  /** Port I/O: `count` accesses of `size` bytes at `port`; `data` holds count*size bytes. */
  Io = 1,
  /** MMIO: `size` (1-8) bytes at physical `addr`; `data` holds them. */
  Mmio = 2,
  /** HLT executed (user irqchip). */
  Halt = 3,
  /** The interrupt window asked for with request_interrupt_window opened. */
  IrqWindow = 4,
  /** KVM_RUN returned EINTR: the deadline kick (or a signal) fired. */
  Kick = 5,
  /** Single-step or breakpoint. */
  Debug = 6,
  /** Triple fault / shutdown cycle. */
  Shutdown = 7,
  /** KVM could not emulate something, or VM entry failed. */
  InternalError = 8,
  FailEntry = 9,
  /** A system event (reset, shutdown, crash) or an exit reason ts86 does not know. */
  SystemEvent = 10,
  Unknown = 11,
}

/** One exit. Reused by the backend (no allocation per exit); fields beyond `kind` mean what the kind says. */
export interface VcpuExit {
  kind: ExitKind;
  port: number;
  addr: number;
  size: number;
  count: number;
  write: boolean;
  /** I/O or MMIO data (a view into kvm_run for KVM), little-endian. */
  data: Uint8Array;
  /** Internal error suberror / fail-entry reason / raw exit reason for Unknown. */
  code: number;
  /** Extra words (internal error data). */
  detail: number[];
}

export function newExit(kind: ExitKind = ExitKind.Unknown): VcpuExit {
  return { kind, port: 0, addr: 0, size: 0, count: 0, write: false, data: new Uint8Array(8), code: 0, detail: [] };
}

/** What the run loop does next. */
export const enum ExitAction {
  /** Re-enter the vCPU. */
  Resume = 0,
  /** The vCPU halted: wait for an interrupt (or power off when IF=0). */
  Halted = 1,
  /** The machine must reset (triple fault). */
  Shutdown = 2,
  /** Stop the guest with a guest error and a register dump; see `exitMessage`. */
  GuestError = 3,
  /** A debug exit: the caller's single-step / breakpoint logic decides. */
  Debug = 4,
  /** Nothing happened in the guest (kick, interrupt window): run the loop's bookkeeping. */
  Poll = 5,
}

function readLe(d: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + d[at + i]!;
  return v;
}

function writeLe(d: Uint8Array, at: number, size: number, v: number): void {
  for (let i = 0; i < size; i++) { d[at + i] = v & 0xff; v = Math.floor(v / 256); }
}

/** Accesses the bus takes whole: 1, 2, 4; an 8-byte MMIO access is split into two dwords (low first). */
function chunks(size: number): AccessSize[] {
  if (size === 1 || size === 2 || size === 4) return [size];
  if (size === 8) return [4, 4];
  return Array.from({ length: size }, () => 1 as AccessSize);
}

/** Handles one exit against the bus. Port/MMIO reads fill `exit.data` for the vCPU to pick up on re-entry. */
export function handleExit(exit: VcpuExit, bus: PortIo & MmioIo): ExitAction {
  switch (exit.kind) {
    case ExitKind.Io: {
      const size = exit.size as AccessSize;
      if (size !== 1 && size !== 2 && size !== 4) return ExitAction.GuestError;
      // String I/O (INS/OUTS with REP) arrives as `count` accesses in one exit, in order.
      for (let i = 0, at = 0; i < exit.count; i++, at += size) {
        if (exit.write) bus.ioWrite(exit.port, size, readLe(exit.data, at, size));
        else writeLe(exit.data, at, size, bus.ioRead(exit.port, size));
      }
      return ExitAction.Resume;
    }
    case ExitKind.Mmio: {
      let at = 0;
      for (const n of chunks(exit.size)) {
        const a = exit.addr + at;
        if (exit.write) bus.mmioWrite(a, n, readLe(exit.data, at, n));
        else writeLe(exit.data, at, n, bus.mmioRead(a, n));
        at += n;
      }
      return ExitAction.Resume;
    }
    case ExitKind.Halt: return ExitAction.Halted;
    case ExitKind.IrqWindow: case ExitKind.Kick: return ExitAction.Poll;
    case ExitKind.Debug: return ExitAction.Debug;
    case ExitKind.Shutdown: return ExitAction.Shutdown;
    default: return ExitAction.GuestError;
  }
}

/** One line for a guest error from an exit (the caller appends the register dump). */
export function exitMessage(exit: VcpuExit): string {
  switch (exit.kind) {
    case ExitKind.Io: return `KVM: port I/O of unsupported size ${exit.size} at port 0x${exit.port.toString(16)}`;
    case ExitKind.InternalError: return `KVM internal error (suberror ${exit.code}${exit.detail.length ? `, data ${exit.detail.map((d) => `0x${d.toString(16)}`).join(' ')}` : ''}): KVM could not emulate an instruction or deliver an event`;
    case ExitKind.FailEntry: return `KVM: VM entry failed (hardware entry failure reason 0x${exit.code.toString(16)}): the vCPU state is not valid for this host`;
    case ExitKind.SystemEvent: return `KVM system event ${exit.code}`;
    default: return `KVM: unexpected exit reason ${exit.code}`;
  }
}
