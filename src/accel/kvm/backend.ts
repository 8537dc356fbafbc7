// The KVM backend of a Machine: guest RAM mmap'd by the shim and shared with the
// devices, one vCPU started in the loader's entry state, and the run loop of DESIGN.md
// ("The run loop") with KVM_RUN in place of Cpu.run. I/O and MMIO exits go to the same
// bus as the interpreter's accesses (accel/exit.ts).
//
// Interrupts, two ways (Documentation/virt/kvm/api.rst):
//  - `user` (default): the TypeScript PIC/APIC decide. When the interrupt line is
//    pending and kvm_run says the vCPU can take it, KVM_INTERRUPT injects the vector the
//    INTA cycle returns; otherwise request_interrupt_window makes KVM exit as soon as it
//    can. HLT exits to us, and the loop waits on the event loop as the interpreter does.
//  - `kernel`: KVM's 8259/IOAPIC/LAPIC and 8254 (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2);
//    the TypeScript devices' ISA lines are forwarded with KVM_IRQ_LINE. HLT stays in
//    the kernel.
// KVM_RUN never blocks the event loop for long: the shim arms a kick for the next
// timer deadline (or the host-time slice), so device timers, stdin and signals are
// serviced on time even when the guest spins without exiting.
import type { Cpu } from '../../cpu/cpu';
import type { AioContext } from '../../aio/aio-context';
import type { PcPlatform } from '../../devices/pc-platform';
import { ExitAction, ExitKind, exitMessage, handleExit } from '../exit';
import { policyEntries } from './cpuid';
import { loadShim, type KvmShim } from './shim';
import { shutdownHint } from './shutdown-hint';
import { regsFromCpu, regsToCpu, sregsFromCpu, sregsToCpu } from './state';
import { APIC_BASE_DEFAULT, KvmError, KvmVm, allocGuestRam } from './vm';

export type Irqchip = 'user' | 'kernel';

/** How a run ended, in the Machine's terms (the Machine maps these to RunOutcome). */
export type KvmStop =
  | { kind: 'poweroff'; message: string }
  | { kind: 'triple-fault'; message: string }
  | { kind: 'guest-error'; message: string };

/** What the backend needs from the Machine that owns it. */
export interface KvmHost {
  readonly cpu: Cpu;
  readonly aio: AioContext;
  readonly platform: PcPlatform;
  /** True when the Machine has a stop request or is paused: the loop returns. */
  shouldReturn(): boolean;
  traceStep: ((cpu: Cpu) => void) | null;
}

const EFLAGS_IF = 0x200;
/** Longest KVM_RUN without returning to the loop (stdin, signals, pause requests). */
const MAX_RUN_NS = 20e6;
/** Longest stretch of exits without polling the event loop (bottom halves, fds). */
const POLL_NS = 50_000;

export class KvmBackend {
  readonly ram: ArrayBuffer;
  readonly vm: KvmVm;
  readonly irqchip: Irqchip;
  /** Exits handled (there is no instruction count under KVM). */
  exits = 0;
  private halted = false;
  private stepping = false;
  private synced = true;
  private closed = false;
  /** The Machine's Cpu, which mirrors the vCPU (set by attach). */
  private mirror: Cpu | null = null;

  private constructor(shim: KvmShim, ramBytes: number, irqchip: Irqchip) {
    this.irqchip = irqchip;
    this.vm = new KvmVm(shim, { kernelIrqchip: irqchip === 'kernel' });
    try {
      this.vm.setupPlatform();
      this.ram = allocGuestRam(shim, ramBytes);
    } catch (e) {
      this.vm.close();
      throw e;
    }
  }

  /** Opens KVM and allocates guest RAM; throws KvmError with a one-line reason when KVM is unusable. */
  static create(ramBytes: number, irqchip: Irqchip = 'user'): KvmBackend {
    const shim = loadShim();
    if (typeof shim === 'string') throw new KvmError(shim);
    return new KvmBackend(shim, ramBytes, irqchip);
  }

  /** After the loader: memory slot, vCPU, CPUID, interrupt wiring, and the Cpu's entry state copied in. */
  attach(host: KvmHost): void {
    const vm = this.vm;
    this.mirror = host.cpu;
    vm.mapMemory(0, 0, this.ram);
    vm.createVcpu();
    vm.setCpuid(policyEntries({ fpu: host.cpu.fpu !== null, fxsr: host.cpu.fpu !== null, apic: true, apicId: 0 }, vm.supportedCpuid()));
    if (this.irqchip === 'kernel') {
      vm.setupVirtualWire();
      // Device lines reach KVM's 8259 instead of the TypeScript one (which then sees
      // no port accesses: KVM serves 0x20/0xa0/0x40-0x43 itself).
      host.platform.pic.setIrq = (n: number, level: boolean): void => {
        if (n < 0 || n > 15) throw new Error(`PIC: bad IRQ ${n}`);
        vm.irqLine(n, level);
      };
    }
    this.loadFromCpu(host.cpu);
  }

  /** Copies the interpreter Cpu's architectural state into the vCPU. */
  loadFromCpu(cpu: Cpu): void {
    regsFromCpu(cpu, this.vm.regs);
    this.vm.setRegs();
    this.vm.getSregs();
    const bitmap = new Uint8Array(this.vm.sregs.buffer, 280, 32).slice();
    sregsFromCpu(cpu, this.vm.sregs, APIC_BASE_DEFAULT);
    new Uint8Array(this.vm.sregs.buffer, 280, 32).set(bitmap);
    this.vm.setSregs();
    this.synced = true;
  }

  /** Copies the vCPU's state into the Cpu (for dumps, traces and the debugger). */
  syncToCpu(cpu: Cpu): void {
    if (this.synced || this.closed) return;
    regsToCpu(this.vm.getRegs(), cpu);
    sregsToCpu(this.vm.getSregs(), cpu);
    cpu.halted = this.halted;
    this.synced = true;
  }

  setSingleStep(on: boolean): void {
    if (on === this.stepping) return;
    this.vm.setSingleStep(on);
    this.stepping = on;
  }

  /**
   * Runs until the guest stops, `maxExits` exits have been handled, the host-time budget
   * is used up, or the host asks to return. Returns why the guest stopped, or null.
   */
  runFor(host: KvmHost, maxExits: number, hostBudgetNs: number): KvmStop | null {
    const vm = this.vm, aio = host.aio, line = host.platform.interruptLine;
    const hostClock = aio.hostClock;
    const t0 = hostClock.now();
    const user = this.irqchip === 'user';
    this.setSingleStep(host.traceStep !== null);
    let lastPoll = -Infinity;
    for (let n = 0; ; n++) {
      if (host.shouldReturn() || n >= maxExits) return null;
      const now = hostClock.now();
      const elapsed = now - t0;
      if (elapsed > hostBudgetNs) return null;
      // The event loop every POLL_NS of host time or when a timer is due, not after every
      // exit: a port-I/O-heavy guest exits every few microseconds.
      if (now - lastPoll >= POLL_NS || this.halted || aio.timeoutNs() === 0) {
        lastPoll = now;
        aio.poll(false);
        if (host.shouldReturn()) return null;
      }
      if (this.halted) {
        if (!vm.ifFlag) return { kind: 'poweroff', message: 'the guest halted with interrupts disabled (power off)' };
        if (!line.pending()) {
          if (aio.nextDeadline() < 0 && aio.timeoutNs() < 0) return { kind: 'poweroff', message: 'HLT with no timer armed and no interrupt source' };
          aio.poll(true);
          continue;
        }
        this.halted = false;
      }
      if (user) {
        if (line.pending()) {
          if (vm.readyForInjection && vm.ifFlag) {
            vm.interrupt(line.ack());
            vm.requestInterruptWindow = line.pending();
          } else vm.requestInterruptWindow = true;
        } else vm.requestInterruptWindow = false;
      }
      const wait = aio.timeoutNs();
      let timeout = Math.min(MAX_RUN_NS, Math.max(0, hostBudgetNs - elapsed));
      if (wait >= 0) timeout = Math.min(timeout, wait);
      timeout = Math.max(timeout, 10_000);
      this.synced = false;
      let exit;
      try {
        exit = vm.runOnce(timeout);
      } catch (e) {
        // KVM_RUN itself failed (e.g. EFAULT for a bad memory slot): the guest cannot go on.
        if (e instanceof KvmError) return { kind: 'guest-error', message: e.message };
        throw e;
      }
      this.exits++;
      const action = handleExit(exit, host.platform.bus);
      switch (action) {
        case ExitAction.Resume:
          // Under single-step an OUT or MMIO write is reported as the exit itself with
          // the instruction complete (observed on PVM): it is a step boundary.
          if (this.stepping && exit.write) this.traceOne(host);
          continue;
        case ExitAction.Halted:
          this.halted = true;
          continue;
        case ExitAction.Poll:
          if (exit.kind === ExitKind.Kick && !user && vm.isHalted() && !(Number(vm.getRegs().getBigUint64(136, true)) & EFLAGS_IF)) {
            return { kind: 'poweroff', message: 'the guest halted with interrupts disabled (power off)' };
          }
          continue;
        case ExitAction.Debug:
          if (this.stepping) this.traceOne(host);
          continue;
        case ExitAction.Shutdown:
          this.syncToCpu(host.cpu);
          return { kind: 'triple-fault', message: `triple fault (KVM_EXIT_SHUTDOWN)${shutdownHint(host.cpu)}` };
        case ExitAction.GuestError:
          return { kind: 'guest-error', message: exitMessage(exit) };
      }
    }
  }

  private traceOne(host: KvmHost): void {
    this.syncToCpu(host.cpu);
    host.traceStep?.(host.cpu);
  }

  /** Leaves the final vCPU state in the Cpu (stats, hashes and dumps after the run read it), then closes KVM. */
  close(): void {
    if (this.closed) return;
    if (this.mirror) this.syncToCpu(this.mirror);
    this.closed = true;
    this.vm.close();
  }
}

export { KvmError } from './vm';
