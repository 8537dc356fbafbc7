// A minimal PC for tests: the interpreter CPU, RAM, and the platform devices on a
// virtual clock, driven by the run loop of DESIGN.md ("The run loop"). The real
// Machine lives in src/machine; this helper exists so device tests can boot guest
// binaries without it.

import * as fs from 'node:fs';
import { AioContext } from '../../src/aio/aio-context';
import { VirtualClock } from '../../src/aio/clock';
import { Cpu } from '../../src/cpu/cpu';
import { Exit } from '../../src/cpu/interfaces';
import { BufferCharBackend } from '../../src/devices/chardev';
import { PcPlatform } from '../../src/devices/pc-platform';
import { PhysMemory } from '../../src/mmu/physmem';

const EFLAGS_IF = 0x200;

export interface MiniPcOptions {
  ramBytes?: number;
  /** Nominal instructions per second of the virtual clock (default 100 M). */
  ips?: number;
  /** Instructions per vcpu.run slice when no timer is due sooner. */
  quantum?: number;
}

export interface RunResult {
  /** isa-debug-exit status, or null when the run ended otherwise. */
  exitStatus: number | null;
  reason: 'exit' | 'budget' | 'shutdown' | 'guest-error' | 'halted-forever' | 'reset';
  message: string;
  instructions: number;
  virtualNs: number;
}

export class MiniPc {
  readonly aio: AioContext;
  readonly clock: VirtualClock;
  readonly mem: PhysMemory;
  readonly cpu: Cpu;
  readonly platform: PcPlatform;
  readonly serial = new BufferCharBackend();
  readonly debugcon = new BufferCharBackend();
  private exitStatus: number | null = null;
  private resetRequested = false;
  private readonly quantum: number;
  private inRun = false;

  constructor(opts: MiniPcOptions = {}) {
    const ramBytes = opts.ramBytes ?? 32 * 1024 * 1024;
    this.quantum = opts.quantum ?? 1_000_000;
    // The clock needs the CPU's instruction count; the CPU needs the bus. Close the loop lazily.
    let cpuRef: Cpu | null = null;
    this.clock = new VirtualClock(() => (cpuRef ? cpuRef.icount : 0), opts.ips ?? 100_000_000);
    this.aio = new AioContext({ clock: this.clock });
    this.platform = new PcPlatform({
      aio: this.aio,
      ramBytes,
      com1: this.serial,
      debugcon: this.debugcon,
      onExit: (status) => {
        this.exitStatus = status;
        this.cpu.requestStop();
      },
      onReset: () => {
        this.resetRequested = true;
        this.cpu.requestStop();
      },
    });
    this.mem = new PhysMemory(ramBytes, this.platform.bus);
    this.cpu = new Cpu(this.mem, this.platform.bus);
    cpuRef = this.cpu;
    this.cpu.intr = this.platform.interruptLine;
    // A device armed a timer due before the end of the current slice: end the slice.
    this.aio.onEarlierDeadline = () => {
      if (this.inRun) this.cpu.requestStop();
    };
    this.cpu.msrHandlers.push(this.platform.lapic);
    this.cpu.reset();
  }

  /** Load a flat binary at `addr` and enter it in 32-bit flat protected mode. */
  loadFlat32(image: Uint8Array | string, addr = 0x100000): void {
    const bytes = typeof image === 'string' ? new Uint8Array(fs.readFileSync(image)) : image;
    this.mem.ram.set(bytes, addr);
    this.cpu.setupFlat32(addr);
  }

  private makeResult(reason: RunResult['reason'], message: string, start: number): RunResult {
    return {
      exitStatus: this.exitStatus,
      reason,
      message,
      instructions: this.cpu.icount - start,
      virtualNs: this.clock.now(),
    };
  }

  /** Run until the guest exits, resets, dies, or `maxInstructions` have run. */
  run(maxInstructions = 1e9): RunResult {
    const start = this.cpu.icount;
    const result = (reason: RunResult['reason'], message = ''): RunResult => {
      this.platform.flushOutput();
      return this.makeResult(reason, message, start);
    };
    for (;;) {
      if (this.exitStatus !== null) return result('exit');
      if (this.resetRequested) return result('reset');
      const used = this.cpu.icount - start;
      if (used >= maxInstructions) return result('budget');
      this.aio.poll(false);
      if (this.cpu.halted && !(this.cpu.getEflags() & EFLAGS_IF) && !this.cpu.nmiPending) {
        // CLI; HLT: nothing in this machine can wake it (no NMI source).
        return result('halted-forever', 'HLT with interrupts disabled');
      }
      if (this.cpu.halted) {
        // Every vCPU is halted: a blocking poll jumps virtual time to the next deadline.
        if (!this.aio.poll(true) && this.aio.nextDeadline() < 0 && !this.platform.interruptLine.pending()) {
          return result('halted-forever', 'HLT with no timer armed and no interrupt pending');
        }
      }
      const deadline = this.aio.nextDeadline();
      let slice = deadline < 0 ? this.quantum : Math.min(this.quantum, this.clock.instructionsUntil(deadline));
      slice = Math.max(1, Math.min(slice, maxInstructions - used));
      this.inRun = true;
      const exit = this.cpu.run(slice);
      this.inRun = false;
      switch (exit) {
        case Exit.Shutdown:
          return result('shutdown', this.cpu.shutdownReason);
        case Exit.GuestError:
          return result('guest-error', this.cpu.guestError);
        default:
          break; // Budget, Halt, Stopped: loop
      }
    }
  }
}
