// Machine: owns RAM, the bus, the clock, the devices and the vCPU, builds a PC from a
// MachineConfig, and runs the loop of DESIGN.md ("The run loop"). Usable as a library.
import { AioContext } from '../aio/aio-context';
import { HostClock, VirtualClock, type Clock } from '../aio/clock';
import { SliceSizer } from './slice-sizer';
import { Cpu, type CpuOptions } from '../cpu/cpu';
import { Exit } from '../cpu/interfaces';
import { AR_DB, AR_G, AR_P, AR_S, CS } from '../cpu/consts';
import { BufferCharBackend, type CharBackend } from '../devices/chardev';
import { PcPlatform } from '../devices/pc-platform';
import { PhysMemory } from '../mmu/physmem';
import { loadKernel, type LoadedImage, type KernelSpec } from '../loader/index';
import { isBzImage } from '../loader/bzimage';
import type { MultibootModule } from '../loader/multiboot';
import { describePageTables, describeState, peekLinear } from './dump';
import { X87 } from '../cpu/fpu/x87';
import { KvmBackend, KvmError, type Irqchip, type KvmHost } from '../accel/kvm/backend';
import { SerialConsole } from './serial-console';
import { SeededRandom } from './seeded-random';
import { decodeSnapshot, type Snapshot } from './snapshot-format';
import { applySnapshot, captureSnapshot, machineHashedState } from './machine-snapshot';
import { hashState } from './state-hash';
import { randomInt } from 'node:crypto';
import { DiskImage, DiskImageError, VirtioDevices, MAX_DISKS, type DiskSpec } from '../devices/virtio/index';

/** kvmtool's x86 default kernel command line (tools/kvm x86 kvm.c), which ts86 follows. */
export const DEFAULT_CMDLINE = 'noapic noacpi pci=conf1 reboot=k panic=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 earlyprintk=serial i8042.noaux=1 console=ttyS0';

export interface MachineConfig {
  name?: string;
  /** Guest RAM in MiB. */
  memMiB: number;
  cpus?: number;
  kernel: { path: string; image: Uint8Array };
  /** Initrd files (one for Linux; several become multiboot modules). */
  initrds?: { path: string; args: string; data: Uint8Array }[];
  /** Extra kernel parameters (-p), appended to the defaults for Linux. */
  params?: string;
  /** Replace the default command line entirely. */
  cmdline?: string;
  /** 'virtio': the guest console is virtio-console (hvc0) on `serial`'s backend; COM1 output still goes there. */
  console?: 'serial' | 'virtio';
  /** virtio-blk disks (raw images), /dev/vda.. in order (at most 4). */
  disks?: DiskSpec[];
  /** A virtio-rng device. */
  rng?: boolean;
  /** A virtio device stopped on a guest error (default: kept in Machine.deviceErrors). */
  onDeviceError?: (message: string) => void;
  /** Where COM1 goes (default: an in-memory buffer; the CLI passes stdio). */
  serial?: CharBackend;
  /** Port 0xE9 output (default: same as serial). */
  debugcon?: CharBackend;
  /** Virtual clock from executed instructions instead of the host clock. */
  deterministic?: boolean;
  /** Nominal instructions per second of the virtual clock (default 100 M: DEFAULT_IPS). */
  ips?: number;
  /** RTC time at boot in Unix seconds (default: host time, or 2000-01-01 when deterministic). */
  rtcEpochSeconds?: number;
  /**
   * Seed of the machine's PRNG (`Machine.random`), the only randomness device models
   * may use (default: 0 when deterministic, else a random seed).
   */
  seed?: number;
  /** Restore this (decoded, checked) snapshot instead of loading `kernel` (see Machine.fromSnapshot). */
  restore?: Snapshot;
  /** Trace every port/MMIO access to this sink. */
  debugIoport?: (line: string) => void;
  /** Flat binaries: load address and mode. */
  flatAddr?: number;
  flatBits?: 16 | 32;
  cpu?: CpuOptions;
  /** Instructions per vCPU slice when no timer is due sooner. */
  quantum?: number;
  /** Serial line timing: 'fast' (default; host speed) or 'real' (the programmed baud rate). */
  serialTiming?: 'fast' | 'real';
  /** CPU backend: the interpreter (default) or KVM (throws MachineError when KVM is unusable). */
  accel?: 'interp' | 'kvm';
  /** With KVM: interrupt controllers in TypeScript ('user', default) or in the kernel. */
  irqchip?: Irqchip;
}

export type StopReason = 'debug-exit' | 'poweroff' | 'reboot' | 'triple-fault' | 'guest-error' | 'panic' | 'stopped' | 'budget' | 'script-failed';

export interface RunOutcome {
  reason: StopReason;
  /** The process exit status this maps to (documented in the README). */
  exitStatus: number;
  message: string;
  instructions: number;
}

/** Exit statuses (README "Exit status"). */
export const EXIT_POWEROFF = 0, EXIT_REBOOT = 0, EXIT_TRIPLE_FAULT = 3, EXIT_GUEST_ERROR = 4, EXIT_PANIC = 5, EXIT_STOPPED = 130;
/** The console's stdout was closed by its reader: 128 + SIGPIPE, as a program killed by SIGPIPE reports. */
export const EXIT_STDOUT_CLOSED = 141;
/** A serial script's expect timed out. */
export const EXIT_SCRIPT_FAILED = 1;
/** The virtual clock's default rate: 100 M instructions per second of guest time. */
export const DEFAULT_IPS = 100_000_000;
/** The RTC's time at boot in deterministic runs: 2000-01-01T00:00:00Z. */
export const DEFAULT_RTC_BASE = 946684800;

const EFLAGS_IF = 0x200;
const MIB = 1024 * 1024;

export class MachineError extends Error {}

export class Machine {
  readonly config: MachineConfig;
  readonly clock: Clock;
  readonly aio: AioContext;
  readonly mem: PhysMemory;
  readonly cpu: Cpu;
  readonly platform: PcPlatform;
  /** COM1 as the host sees it: transcript, input, waitFor (it forwards to config.serial). */
  readonly serial: SerialConsole;
  readonly loaded: LoadedImage;
  readonly cmdline: string;
  readonly virtio: VirtioDevices;
  /** Guest errors that stopped a virtio device (NEEDS_RESET), with their dumps. */
  readonly deviceErrors: string[] = [];
  /** The KVM backend when `accel: 'kvm'`; the Cpu then only mirrors the vCPU's registers. */
  readonly kvm: KvmBackend | null = null;
  /** The only randomness device models may use: seeded, saved in snapshots. */
  readonly random: SeededRandom;
  readonly seed: number;
  /** The RTC's Unix time at clock time 0. */
  readonly rtcEpochSeconds: number;
  private stopRequest: RunOutcome | null = null;
  private breakRequested = false;
  /** Callbacks due at an instruction count, sorted by count (trace hashes, snapshot triggers). */
  private icountHooks: { at: number; cb: () => void }[] = [];
  private readonly boundaryBh;
  private boundaryCallbacks: (() => void)[] = [];
  private paused = false;
  private inRun = false;
  private readonly quantum: number;
  /** Host-clock runs size their slices to the next deadline from the measured speed. */
  private readonly sizer = new SliceSizer();
  /** Called after every instruction when set (--debug-single-step); the loop then runs one instruction per slice. */
  traceStep: ((cpu: Cpu) => void) | null = null;

  constructor(config: MachineConfig) {
    this.config = config;
    const cpus = config.cpus ?? 1;
    if (cpus !== 1) throw new MachineError(`${cpus} vCPUs requested: the interpreter runs one vCPU so far`);
    if (!Number.isFinite(config.memMiB) || config.memMiB < 64) throw new MachineError(`-m ${config.memMiB}: at least 64 MiB of guest RAM is needed`);
    if (config.memMiB > 3072) throw new MachineError(`-m ${config.memMiB}: at most 3072 MiB (the 32-bit PC memory map ends below the 4 GiB MMIO hole)`);
    const ramBytes = config.memMiB * MIB;
    const disks = openDisks(config.disks ?? []);
    this.quantum = config.quantum ?? 200_000;
    let cpuRef: Cpu | null = null;
    const restore = config.restore;
    this.clock = config.deterministic ? new VirtualClock(() => (cpuRef ? cpuRef.icount : 0), config.ips ?? DEFAULT_IPS) : new HostClock(restore?.header.clock.nowNs ?? 0);
    this.aio = new AioContext({ clock: this.clock });
    this.boundaryBh = this.aio.newBottomHalf(() => { for (const cb of this.boundaryCallbacks.splice(0)) cb(); }, 'machine-boundary');
    this.seed = (config.seed ?? (config.deterministic ? 0 : randomInt(0x7fffffff))) >>> 0;
    this.random = new SeededRandom(this.seed);
    const serialOut = config.serial ?? new BufferCharBackend();
    // Watch the console for a kernel panic so the exit status can say so.
    const watched: CharBackend = {
      write: (d) => { serialOut.write(d); this.watchConsole(d); },
      setReceiver: (rx) => serialOut.setReceiver(rx),
    };
    this.serial = new SerialConsole(watched);
    this.serial.driver = { runUntil: (done, ms, what) => this.runUntilCondition(done, ms, what), requestBreak: () => this.requestBreak() };
    if (config.deterministic) {
      // Host input (a terminal, a pipe) arrives whenever the host delivers it; a
      // deterministic machine applies it at the next whole virtual millisecond.
      this.serial.hostInputFilter = (d, deliver) => {
        const at = (Math.floor(this.clock.now() / 1e6) + 1) * 1e6;
        this.at(at, () => deliver(d));
      };
    }
    // With a virtio console, hvc0 takes the host input; COM1 keeps its output (early messages).
    const virtioConsole = config.console === 'virtio';
    const com1: CharBackend = virtioConsole ? { write: (d) => this.serial.write(d), setReceiver: () => {} } : this.serial;
    this.platform = new PcPlatform({
      aio: this.aio,
      ramBytes,
      cpus,
      com1,
      debugcon: config.debugcon ?? this.serial,
      rtcEpochSeconds: this.rtcEpochSeconds = config.rtcEpochSeconds ?? (config.deterministic ? DEFAULT_RTC_BASE : HostClock.wallClockSeconds()),
      onExit: (status) => this.requestStop({ reason: 'debug-exit', exitStatus: status, message: `isa-debug-exit: guest wrote 0x${((status - 1) >> 1).toString(16)}`, instructions: 0 }),
      onReset: () => this.requestStop({ reason: 'reboot', exitStatus: EXIT_REBOOT, message: 'the guest requested a reboot', instructions: 0 }),
    });
    if (config.debugIoport) this.platform.bus.traceIo = config.debugIoport;
    this.platform.com1.lineTiming = this.platform.com2.lineTiming = config.serialTiming ?? 'fast';
    if (config.accel === 'kvm') {
      if (config.deterministic) throw new MachineError('--deterministic needs the interpreter (--accel interp): KVM runs on the host clock');
      if (config.restore) throw new MachineError('snapshots need the interpreter (--accel interp)');
      try { this.kvm = KvmBackend.create(ramBytes, config.irqchip ?? 'user'); } catch (e) {
        if (e instanceof KvmError) throw new MachineError(`--accel kvm: ${e.message}`);
        throw e;
      }
    }
    // With KVM the RAM is the shim's mapping, shared zero-copy by KVM and the devices.
    // Otherwise in a WebAssembly.Memory for the WebAssembly tier where it is on.
    this.mem = this.kvm ? new PhysMemory(this.kvm.ram, this.platform.bus) : PhysMemory.forCpu(ramBytes, this.platform.bus, config.cpu?.wasm);
    this.cpu = new Cpu(this.mem, this.platform.bus, config.cpu);
    cpuRef = this.cpu;
    this.cpu.intr = this.platform.interruptLine;
    // TSC at a nominal 1 GHz from the machine clock (ns): consistent with every timer device.
    const clock = this.clock;
    this.cpu.tscSource = () => clock.now();
    this.cpu.msrHandlers.push(this.platform.lapic);
    this.cpu.hasApic = true;
    // The x87 unit. With CR0.NE=0, FERR# reaches the PIC as IRQ13 (PC/AT wiring); a write
    // to port 0xF0 clears the latch (the "ignore numeric error" port).
    this.cpu.fpu = new X87();
    const irq13 = this.platform.pic.irqLine(13);
    this.cpu.onFerr = (asserted) => { if (!(this.cpu.cr0 & 0x20)) irq13.set(asserted); };
    this.platform.bus.registerPorts('fpu-error', 0xf0, 1, { read: () => 0xff, peek: () => 0xff, write: () => irq13.set(false) });
    this.platform.a20.onChange = (on) => {
      this.cpu.a20Mask = on ? 0xffffffff : 0xffefffff;
      this.cpu.flushTlb(true);
      this.cpu.flushCodeCache();
    };
    this.aio.onEarlierDeadline = () => { if (this.inRun) this.cpu.requestStop(); };
    this.virtio = new VirtioDevices({
      aio: this.aio, mem: this.mem, bus: this.platform.bus, pci: this.platform.pci, pic: this.platform.pic,
      deterministic: config.deterministic === true, kick: () => { if (this.inRun) this.cpu.requestStop(); },
      report: (msg) => { this.deviceErrors.push(msg); config.onDeviceError?.(msg); },
      disks, console: virtioConsole ? this.serial : null, rng: config.rng === true,
      // Host randomness, unless the run must be reproducible: then the machine's seeded PRNG.
      random: config.deterministic || config.seed !== undefined ? this.random : null,
    });
    this.platform.extraDevices.push(...this.virtio.devices());

    if (restore) {
      // A restored machine: no kernel is loaded; every piece of state comes from the
      // snapshot (checked against this machine's devices before anything changes).
      this.cmdline = restore.header.config.cmdline;
      this.loaded = { kind: 'flat', describe: `restored snapshot of ${restore.header.config.describe}`, entry: { mode: 'real', eip: 0 } };
      applySnapshot(this, restore);
      return;
    }

    // Load the kernel.
    const params = config.params ?? '';
    const defaults = virtioConsole ? DEFAULT_CMDLINE.replace('console=ttyS0', 'console=hvc0') : DEFAULT_CMDLINE;
    this.cmdline = config.cmdline ?? (params ? `${defaults} ${params}` : defaults);
    const initrds = config.initrds ?? [];
    const modules: MultibootModule[] = initrds.map((m) => ({ name: m.path, args: m.args, data: m.data }));
    const spec: KernelSpec = {
      image: config.kernel.image, path: config.kernel.path, cmdline: this.cmdline, params,
      initrd: initrds.length === 1 ? initrds[0].data : null, modules: initrds.length > 1 ? modules : [],
      flatAddr: config.flatAddr ?? 0x100000, flatBits: config.flatBits ?? 32,
    };
    if (initrds.length > 1 && isBzImage(spec.image)) throw new MachineError('Linux takes one initrd (-i); several are only for multiboot kernels');
    const target = {
      ramBytes,
      write: (addr: number, data: Uint8Array) => {
        if (!this.mem.rangeOk(addr, data.length)) throw new MachineError(`loader write of ${data.length} bytes at 0x${addr.toString(16)} is outside guest RAM`);
        this.mem.ram.set(data, addr);
      },
      fill: (addr: number, len: number, v: number) => {
        if (!this.mem.rangeOk(addr, len)) throw new MachineError(`loader fill of ${len} bytes at 0x${addr.toString(16)} is outside guest RAM`);
        this.mem.ram.fill(v, addr, addr + len);
      },
    };
    try {
      this.loaded = loadKernel(spec, target);
    } catch (e) {
      this.virtio.close(); // the disk images are open by now
      throw e;
    }
    this.enter(this.loaded);
    this.kvm?.attach(this.kvmHost);
  }

  /** What the KVM backend sees of this Machine. */
  private get kvmHost(): KvmHost {
    return {
      cpu: this.cpu, aio: this.aio, platform: this.platform, traceStep: this.traceStep,
      shouldReturn: () => this.stopRequest !== null || this.paused || this.breakRequested,
    };
  }

  /** Sets the CPU up in the entry state the loader asked for. */
  private enter(img: LoadedImage): void {
    const cpu = this.cpu;
    cpu.reset();
    if (img.entry.mode === 'real') {
      const cs = img.entry.cs ?? 0;
      cpu.setupReal(cs, img.entry.eip, 0, 0x7c00);
    } else {
      cpu.setupFlat32(img.entry.eip, img.entry.cs ?? 0x08, (img.entry.cs ?? 0x08) + 8);
      if (img.gdt) cpu.gdtr = { ...img.gdt };
      cpu.setSegCache(CS, img.entry.cs ?? 0x08, 0, 0xffffffff, AR_P | AR_S | 0x0b | AR_DB | AR_G);
    }
    const r = img.entry.regs ?? {};
    const names = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
    names.forEach((n, k) => { const v = r[n]; if (v !== undefined) cpu.r32[k] = v; });
  }

  /** @internal Console tail and panic flag, for snapshots. */
  consoleTail = '';
  /** @internal */
  panicSeen = false;

  private watchConsole(d: Uint8Array): void {
    this.consoleTail = (this.consoleTail + String.fromCharCode(...d)).slice(-256);
    if (this.consoleTail.includes('Kernel panic - not syncing')) {
      this.consoleTail = '';
      this.panicSeen = true;
    }
  }

  private requestStop(o: RunOutcome): void {
    if (!this.stopRequest) this.stopRequest = o;
    this.cpu.requestStop();
  }

  /** Stops the run with this outcome at the next instruction boundary (a failed serial script, say). */
  stopWith(o: Omit<RunOutcome, 'instructions'>): void { this.requestStop({ ...o, instructions: 0 }); }

  /** Asks the run loop to stop at the next instruction boundary. */
  stop(message = 'stopped by request'): void {
    this.requestStop({ reason: 'stopped', exitStatus: EXIT_STOPPED, message, instructions: 0 });
  }
  pause(): void { this.paused = true; this.cpu.requestStop(); }
  resume(): void { this.paused = false; }
  get isPaused(): boolean { return this.paused; }

  /** Registers, code around EIP, the stack and the page-table walk: what SIGQUIT prints. */
  dump(): string { this.kvm?.syncToCpu(this.cpu); return describeState(this.cpu); }
  /** The page-table walk of `lins` and the mapped ranges of the current address space. */
  dumpPageTables(lins: number[]): string { this.kvm?.syncToCpu(this.cpu); return describePageTables(this.cpu, lins); }

  /**
   * Runs until the guest stops (or `maxInstructions` have run). Synchronous: the
   * caller decides when to yield to the host event loop (see runAsync).
   */
  runFor(maxInstructions: number, hostBudgetNs = Infinity): RunOutcome | null {
    if (this.kvm) return this.runForKvm(this.kvm, maxInstructions, hostBudgetNs);
    const start = this.cpu.icount;
    const host = this.aio.hostClock;
    const t0 = host.now();
    for (;;) {
      if (this.stopRequest) return this.finish(this.stopRequest, start);
      if (this.paused) return null;
      if (this.icountHooks.length && this.cpu.icount >= this.icountHooks[0]!.at) { this.icountHooks.shift()!.cb(); continue; }
      if (this.breakRequested) { this.breakRequested = false; return null; }
      const used = this.cpu.icount - start;
      if (used >= maxInstructions) return null;
      if (host.now() - t0 > hostBudgetNs) return null;
      this.aio.poll(false);
      if (this.stopRequest) continue;
      if (this.cpu.halted) {
        if (!(this.cpu.getEflags() & EFLAGS_IF) && !this.cpu.nmiPending) {
          // CLI; HLT: nothing can wake the CPU. Linux powers off like this without ACPI.
          return this.finish({ reason: this.panicSeen ? 'panic' : 'poweroff', exitStatus: this.panicSeen ? EXIT_PANIC : EXIT_POWEROFF, message: this.panicSeen ? 'the kernel panicked' : 'the guest halted with interrupts disabled (power off)', instructions: 0 }, start);
        }
        if (!this.platform.interruptLine.pending()) {
          // Every vCPU is halted: wait for the next event (virtual time jumps to it).
          if (this.aio.nextDeadline() < 0 && this.aio.timeoutNs() < 0) {
            return this.finish({ reason: 'poweroff', exitStatus: EXIT_POWEROFF, message: 'HLT with no timer armed and no interrupt source', instructions: 0 }, start);
          }
          this.aio.poll(true);
          if (host.now() - t0 > hostBudgetNs) return null;
          continue;
        }
      }
      const deadline = this.aio.nextDeadline();
      let slice = this.quantum;
      if (deadline >= 0) {
        if (this.clock instanceof VirtualClock) slice = Math.min(slice, this.clock.instructionsUntil(deadline));
        else {
          // Host clock: stop the slice near the next deadline, using the measured speed,
          // so a device timer (a UART frame, a PIT edge) is serviced on time rather than
          // after a whole quantum.
          const ns = deadline - this.clock.now();
          slice = Math.min(slice, this.sizer.sliceFor(ns));
        }
      }
      slice = Math.max(1, Math.min(slice, maxInstructions - used));
      if (this.icountHooks.length) slice = Math.max(1, Math.min(slice, this.icountHooks[0]!.at - this.cpu.icount));
      if (this.traceStep) slice = 1;
      this.inRun = true;
      const i0 = this.cpu.icount, h0 = host.now();
      const exit = this.cpu.run(slice);
      this.inRun = false;
      const dn = this.cpu.icount - i0, dt = host.now() - h0;
      this.sizer.record(dn, dt);
      this.traceStep?.(this.cpu);
      if (exit === Exit.Shutdown) {
        return this.finish({ reason: 'triple-fault', exitStatus: EXIT_TRIPLE_FAULT, message: `${this.cpu.shutdownReason}\n${this.dump()}`, instructions: 0 }, start);
      }
      if (exit === Exit.GuestError) {
        return this.finish({ reason: 'guest-error', exitStatus: EXIT_GUEST_ERROR, message: `${this.cpu.guestError}\n${this.dump()}`, instructions: 0 }, start);
      }
    }
  }

  /** runFor with KVM: `maxInstructions` bounds vCPU exits (KVM counts no instructions). */
  private runForKvm(kvm: KvmBackend, maxExits: number, hostBudgetNs: number): RunOutcome | null {
    if (this.stopRequest) return this.finish(this.stopRequest, this.cpu.icount);
    if (this.paused) return null;
    const r = kvm.runFor(this.kvmHost, maxExits, hostBudgetNs);
    // Between runs the Cpu mirrors the vCPU (library callers, SIGQUIT dumps, hashes read it).
    kvm.syncToCpu(this.cpu);
    if (this.stopRequest) return this.finish(this.stopRequest, this.cpu.icount);
    if (this.breakRequested) { this.breakRequested = false; return null; }
    if (!r) return null;
    if (r.kind === 'poweroff') return this.finish({ reason: this.panicSeen ? 'panic' : 'poweroff', exitStatus: this.panicSeen ? EXIT_PANIC : EXIT_POWEROFF, message: this.panicSeen ? 'the kernel panicked' : r.message, instructions: 0 }, this.cpu.icount);
    const dump = this.dump();
    if (r.kind === 'triple-fault') return this.finish({ reason: 'triple-fault', exitStatus: EXIT_TRIPLE_FAULT, message: `${r.message}\n${dump}`, instructions: 0 }, this.cpu.icount);
    return this.finish({ reason: 'guest-error', exitStatus: EXIT_GUEST_ERROR, message: `${r.message}\n${dump}`, instructions: 0 }, this.cpu.icount);
  }

  private finish(o: RunOutcome, start: number): RunOutcome {
    this.platform.flushOutput();
    if (o.reason === 'reboot' && this.panicSeen) return { reason: 'panic', exitStatus: EXIT_PANIC, message: 'the kernel panicked (and asked to reboot)', instructions: this.cpu.icount - start };
    return { ...o, instructions: this.cpu.icount - start };
  }

  /** Runs to completion, yielding to the host event loop every few milliseconds (signals, stdin). */
  async run(): Promise<RunOutcome> {
    for (;;) {
      const r = this.runFor(Infinity, 20e6);
      if (r) return r;
      await new Promise<void>((res) => setImmediate(res));
      while (this.paused && !this.stopRequest) await new Promise<void>((res) => setTimeout(res, 20));
    }
  }

  /** Counters for --stats. */
  stats(): Record<string, unknown> {
    if (this.kvm) return { accel: 'kvm', irqchip: this.kvm.irqchip, exits: this.kvm.exits, aio: { ...this.aio.stats }, virtio: this.virtio.stats() };
    return { instructions: this.cpu.icount, ...this.cpu.mmuStats(), aio: { ...this.aio.stats }, virtio: this.virtio.stats() };
  }

  close(): void { this.aio.close(); this.kvm?.close(); this.virtio.close(); }

  // ---- determinism, snapshots and the test API (README "Library API") ----------

  /** Builds a machine from a snapshot file's bytes (checked completely first; SnapshotError says why not). */
  static fromSnapshot(bytes: Uint8Array, overrides: Partial<Pick<MachineConfig, 'serial' | 'debugcon' | 'debugIoport' | 'cpu' | 'disks' | 'console' | 'rng' | 'onDeviceError'>> = {}): Machine {
    const snap = decodeSnapshot(bytes);
    const c = snap.header.config;
    return new Machine({
      memMiB: c.memMiB, cpus: c.cpus, kernel: { path: c.kernelPath, image: new Uint8Array(0) }, cmdline: c.cmdline,
      deterministic: c.deterministic, ips: c.ips, seed: c.seed, rtcEpochSeconds: c.rtcEpochSeconds,
      serialTiming: c.serialTiming, quantum: c.quantum, ...overrides, restore: snap,
    });
  }

  /** The whole machine state as a snapshot file (see snapshot-format.ts). Call between runs, not from a device callback. */
  snapshot(): Uint8Array {
    if (this.kvm) throw new MachineError('snapshots need the interpreter (--accel interp)');
    return captureSnapshot(this);
  }

  /** SHA-256 (hex) of RAM, CPU, devices, clock and PRNG; `ram: false` leaves RAM out (cheaper). */
  stateHash(opts: { ram?: boolean } = {}): string {
    this.kvm?.syncToCpu(this.cpu);
    return hashState(machineHashedState(this), opts.ram === false ? null : this.mem.ram);
  }

  /** Machine-clock time in ns (virtual in deterministic runs). */
  now(): number { return this.clock.now(); }

  /** Makes the run loop return (null) at the next instruction boundary; the guest is unaffected. */
  requestBreak(): void { this.breakRequested = true; this.cpu.requestStop(); }

  /** Runs `cb` at the next instruction boundary (from inside a device callback, say). */
  atBoundary(cb: () => void): void {
    this.boundaryCallbacks.push(cb);
    this.boundaryBh.schedule();
    this.cpu.requestStop();
  }

  /** Runs `cb` when the machine clock reaches `ns`; returns a cancel function. */
  at(ns: number, cb: () => void): () => void {
    const t = this.aio.newTimer(cb, 'machine-at');
    t.mod(ns);
    return () => t.del();
  }

  /** Runs `cb` at the instruction boundary where the instruction count reaches `icount`. */
  atInstructionCount(icount: number, cb: () => void): void {
    const hooks = this.icountHooks;
    let k = hooks.length;
    while (k > 0 && hooks[k - 1]!.at > icount) k--;
    hooks.splice(k, 0, { at: icount, cb });
    if (this.inRun) this.cpu.requestStop();
  }

  /** The outcome once the guest has stopped (poweroff, exit, ...), else null. */
  outcome: RunOutcome | null = null;

  /**
   * Runs until `done()` holds (checked at every return of the run loop), yielding to
   * the host event loop between slices. Rejects when the guest stops first or after
   * `hostTimeoutMs` of host time.
   */
  async runUntilCondition(done: () => boolean, hostTimeoutMs: number, what: string): Promise<void> {
    const host = this.aio.hostClock, deadline = host.now() + hostTimeoutMs * 1e6;
    while (!done()) {
      if (this.outcome) throw new MachineError(`waiting for ${what}: the guest stopped (${this.outcome.message})\n--- console tail ---\n${this.serial.text.slice(-1500)}`);
      if (host.now() > deadline) throw new MachineError(`waiting for ${what}: timed out after ${hostTimeoutMs} ms (host time)\n--- console tail ---\n${this.serial.text.slice(-1500)}`);
      const r = this.runFor(Infinity, 20e6);
      if (r) this.outcome = r;
      else await new Promise<void>((res) => setImmediate(res));
    }
  }

  /** Runs until the instruction count is exactly `icount` (or the guest stops). */
  async runUntilInstruction(icount: number, hostTimeoutMs = 600_000): Promise<void> {
    let reached = false;
    this.atInstructionCount(icount, () => { reached = true; this.requestBreak(); });
    await this.runUntilCondition(() => reached || this.cpu.icount >= icount, hostTimeoutMs, `instruction ${icount}`);
  }

  /** Executes `n` instructions (devices and timers run as usual). */
  step(n = 1): RunOutcome | null {
    const r = this.runFor(n);
    if (r) this.outcome = r;
    return r;
  }

  /** Architectural registers (EFLAGS materialised). */
  regs(): Record<'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi' | 'eip' | 'eflags' | 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'cr0' | 'cr2' | 'cr3' | 'cr4', number> {
    const c = this.cpu, r = (k: number): number => c.r32[k]! >>> 0, sel = (k: number): number => c.segSel[k]! & 0xffff;
    return {
      eax: r(0), ecx: r(1), edx: r(2), ebx: r(3), esp: r(4), ebp: r(5), esi: r(6), edi: r(7), eip: c.eip >>> 0, eflags: c.getEflags(),
      es: sel(0), cs: sel(1), ss: sel(2), ds: sel(3), fs: sel(4), gs: sel(5), cr0: c.cr0 >>> 0, cr2: c.cr2 >>> 0, cr3: c.cr3 >>> 0, cr4: c.cr4 >>> 0,
    };
  }

  /** A copy of guest-physical RAM [addr, addr+len) (throws outside RAM). */
  readMemory(addr: number, len: number): Uint8Array {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || !this.mem.rangeOk(addr, len)) throw new MachineError(`readMemory(0x${addr.toString(16)}, ${len}): outside guest RAM`);
    return this.mem.ram.slice(addr, addr + len);
  }

  /** A copy of guest memory at a linear address through the current page tables (null bytes where unmapped). */
  readLinear(lin: number, len: number): (number | null)[] { return peekLinear(this.cpu, lin >>> 0, len); }

  /** Releases host resources (fd watchers); the machine cannot run afterwards. */
  dispose(): void { this.close(); }
}

/** Opens the -d images before anything else is built: a bad one is a clear error before boot. */
function openDisks(specs: DiskSpec[]): DiskImage[] {
  if (specs.length > MAX_DISKS) throw new MachineError(`${specs.length} disks given: at most ${MAX_DISKS}`);
  const opened: DiskImage[] = [];
  try {
    for (const d of specs) opened.push(DiskImage.open(d.path, d.readOnly === true));
  } catch (e) {
    for (const img of opened) img.close();
    if (e instanceof DiskImageError) throw new MachineError(e.message);
    throw e;
  }
  return opened;
}
