// A KVM VM with one vCPU, over the shim: every ioctl and struct layout decision is here
// (Documentation/virt/kvm/api.rst). Policy about *when* (the run loop, interrupts) is in
// backend.ts; this file knows nothing of the Machine.
import type { KvmShim, ErrnoError } from './shim';
import { CAP, EVENTS, EXIT, GUESTDBG_ENABLE, GUESTDBG_SINGLESTEP, KVM, KVM_API_VERSION, MP_STATE_HALTED, RUN, SIZEOF_EVENTS, SIZEOF_GUEST_DEBUG, SIZEOF_LAPIC, SIZEOF_MEM_REGION } from './abi';
import { ExitKind, type VcpuExit, newExit } from '../exit';
import { decodeCpuid2, encodeCpuid2, type CpuidEntry } from './cpuid';
import { newRegs, newSregs } from './state';

export class KvmError extends Error {}

/** Three pages below the BIOS ROM, where QEMU and kvmtool put them: never RAM, never MMIO here. */
export const TSS_ADDR = 0xfffbd000, IDENTITY_MAP_ADDR = 0xfffbc000;
export const APIC_BASE_DEFAULT = 0xfee00900; // 0xFEE00000, BSP, enabled (SDM Vol.3A §10.4.4)

const PROT_RW = 3, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANON = 0x20, MAP_NORESERVE = 0x4000;

function errnoOf(e: unknown): string {
  const x = e as ErrnoError;
  return x.code ? `${x.code}: ${x.message}` : String(x.message ?? e);
}

/** Guest RAM as an anonymous private mapping: the ArrayBuffer the devices and the interpreter use, zero-copy. */
export function allocGuestRam(shim: KvmShim, bytes: number): ArrayBuffer {
  return shim.mmap(bytes, PROT_RW, MAP_PRIVATE | MAP_ANON | MAP_NORESERVE, -1, 0);
}

export interface VmOptions {
  /** KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2 (in-kernel 8259/IOAPIC/LAPIC and 8254). */
  kernelIrqchip: boolean;
}

export class KvmVm {
  readonly sysFd: number;
  readonly vmFd: number;
  vcpuFd = -1;
  /** The mmap'd struct kvm_run of the vCPU. */
  run!: ArrayBuffer;
  runView!: DataView;
  private runBytes!: Uint8Array;
  readonly exit: VcpuExit = newExit();
  readonly regs = newRegs();
  readonly sregs = newSregs();
  private readonly events = new DataView(new ArrayBuffer(SIZEOF_EVENTS));
  private readonly u32 = new Uint32Array(2);
  private closed = false;

  constructor(readonly shim: KvmShim, readonly opts: VmOptions, path = '/dev/kvm') {
    try { this.sysFd = shim.open(path, 2 /* O_RDWR */); } catch (e) { throw new KvmError(`cannot open ${path} (${errnoOf(e)})`); }
    try {
      const api = shim.ioctl(this.sysFd, KVM.GET_API_VERSION);
      if (api !== KVM_API_VERSION) throw new KvmError(`${path}: KVM API version ${api}, ts86 needs ${KVM_API_VERSION}`);
      for (const [name, cap] of [['SET_TSS_ADDR', CAP.SET_TSS_ADDR], ['IMMEDIATE_EXIT', CAP.IMMEDIATE_EXIT]] as const) {
        if (shim.ioctl(this.sysFd, KVM.CHECK_EXTENSION, cap) <= 0) throw new KvmError(`${path}: KVM lacks KVM_CAP_${name}`);
      }
      this.vmFd = shim.ioctl(this.sysFd, KVM.CREATE_VM, 0);
    } catch (e) {
      shim.close(this.sysFd);
      throw e instanceof KvmError ? e : new KvmError(`KVM_CREATE_VM failed (${errnoOf(e)})`);
    }
  }

  private vmIoctl(name: string, req: number, arg?: number | bigint | ArrayBufferView): number {
    try { return this.shim.ioctl(this.vmFd, req, arg); } catch (e) { throw new KvmError(`KVM_${name} failed (${errnoOf(e)})`); }
  }

  vcpuIoctl(name: string, req: number, arg?: number | bigint | ArrayBufferView): number {
    try { return this.shim.ioctl(this.vcpuFd, req, arg); } catch (e) { throw new KvmError(`KVM_${name} failed (${errnoOf(e)})`); }
  }

  checkExtension(cap: number): number { return this.shim.ioctl(this.sysFd, KVM.CHECK_EXTENSION, cap); }

  /** Platform pieces that must exist before the vCPU (api.rst: SET_TSS_ADDR and CREATE_IRQCHIP come first). */
  setupPlatform(): void {
    this.vmIoctl('SET_TSS_ADDR', KVM.SET_TSS_ADDR, TSS_ADDR);
    // VMX without unrestricted guest needs an identity-mapped page table for real mode;
    // other implementations (SVM, PVM) ignore or reject it, which is harmless.
    try { this.shim.ioctl(this.vmFd, KVM.SET_IDENTITY_MAP_ADDR, new BigUint64Array([BigInt(IDENTITY_MAP_ADDR)])); } catch { /* not VMX */ }
    if (this.opts.kernelIrqchip) {
      this.vmIoctl('CREATE_IRQCHIP', KVM.CREATE_IRQCHIP);
      this.vmIoctl('CREATE_PIT2', KVM.CREATE_PIT2, new Uint8Array(64)); // flags 0: no speaker dummy
    }
  }

  /** One memory slot: guest physical [gpa, gpa+len) backed by `mem` (zero-copy). */
  mapMemory(slot: number, gpa: number, mem: ArrayBuffer | Uint8Array): void {
    const v = new DataView(new ArrayBuffer(SIZEOF_MEM_REGION));
    v.setUint32(0, slot, true);
    v.setUint32(4, 0, true);
    v.setBigUint64(8, BigInt(gpa), true);
    v.setBigUint64(16, BigInt(mem.byteLength), true);
    v.setBigUint64(24, this.shim.addressOf(mem), true);
    this.vmIoctl('SET_USER_MEMORY_REGION', KVM.SET_USER_MEMORY_REGION, v);
  }

  createVcpu(): void {
    try { this.vcpuFd = this.shim.ioctl(this.vmFd, KVM.CREATE_VCPU, 0); } catch (e) { throw new KvmError(`KVM_CREATE_VCPU failed (${errnoOf(e)})`); }
    const size = this.shim.ioctl(this.sysFd, KVM.GET_VCPU_MMAP_SIZE);
    this.run = this.shim.mmap(size, PROT_RW, MAP_SHARED, this.vcpuFd, 0);
    this.runView = new DataView(this.run);
    this.runBytes = new Uint8Array(this.run);
    this.exit.data = this.runBytes.subarray(RUN.MMIO_DATA, RUN.MMIO_DATA + 8);
  }

  supportedCpuid(): CpuidEntry[] {
    const buf = new Uint8Array(8 + 256 * 40);
    new DataView(buf.buffer).setUint32(0, 256, true);
    try { this.shim.ioctl(this.sysFd, KVM.GET_SUPPORTED_CPUID, buf); } catch (e) { throw new KvmError(`KVM_GET_SUPPORTED_CPUID failed (${errnoOf(e)})`); }
    return decodeCpuid2(buf);
  }

  setCpuid(entries: CpuidEntry[]): void { this.vcpuIoctl('SET_CPUID2', KVM.SET_CPUID2, encodeCpuid2(entries)); }

  getRegs(): DataView { this.vcpuIoctl('GET_REGS', KVM.GET_REGS, this.regs); return this.regs; }
  setRegs(): void { this.vcpuIoctl('SET_REGS', KVM.SET_REGS, this.regs); }
  getSregs(): DataView { this.vcpuIoctl('GET_SREGS', KVM.GET_SREGS, this.sregs); return this.sregs; }
  setSregs(): void { this.vcpuIoctl('SET_SREGS', KVM.SET_SREGS, this.sregs); }

  /** KVM_GET_VCPU_EVENTS: the pending/injected exception, if any (nr, error code or -1). */
  pendingException(): { nr: number; error: number } | null {
    this.vcpuIoctl('GET_VCPU_EVENTS', KVM.GET_VCPU_EVENTS, this.events);
    const e = this.events;
    if (!e.getUint8(EVENTS.EXC_INJECTED) && !e.getUint8(EVENTS.EXC_PENDING)) return null;
    return { nr: e.getUint8(EVENTS.EXC_NR), error: e.getUint8(EVENTS.EXC_HAS_ERROR_CODE) ? e.getUint32(EVENTS.EXC_ERROR_CODE, true) : -1 };
  }

  /** Clears a pending exception (the lockstep harness hands faults to the interpreter's model). */
  clearEvents(): void {
    this.vcpuIoctl('GET_VCPU_EVENTS', KVM.GET_VCPU_EVENTS, this.events);
    const e = this.events;
    for (const off of [EVENTS.EXC_INJECTED, EVENTS.EXC_PENDING, EVENTS.EXC_HAS_ERROR_CODE, EVENTS.INT_INJECTED, EVENTS.INT_SHADOW]) e.setUint8(off, 0);
    e.setUint32(EVENTS.FLAGS, 0, true);
    this.vcpuIoctl('SET_VCPU_EVENTS', KVM.SET_VCPU_EVENTS, e);
  }

  isHalted(): boolean {
    this.vcpuIoctl('GET_MP_STATE', KVM.GET_MP_STATE, this.u32);
    return this.u32[0] === MP_STATE_HALTED;
  }

  setSingleStep(on: boolean): void {
    const v = new DataView(new ArrayBuffer(SIZEOF_GUEST_DEBUG));
    v.setUint32(0, on ? GUESTDBG_ENABLE | GUESTDBG_SINGLESTEP : 0, true);
    this.vcpuIoctl('SET_GUEST_DEBUG', KVM.SET_GUEST_DEBUG, v);
  }

  /** Injects an external interrupt (user irqchip only; api.rst KVM_INTERRUPT). */
  interrupt(vector: number): void {
    this.u32[0] = vector & 0xff;
    this.vcpuIoctl('INTERRUPT', KVM.INTERRUPT, this.u32.subarray(0, 1));
  }

  /** Drives an input of the in-kernel irqchip (ISA IRQ n = GSI n). */
  irqLine(irq: number, level: boolean): void {
    this.u32[0] = irq; this.u32[1] = level ? 1 : 0;
    this.vmIoctl('IRQ_LINE', KVM.IRQ_LINE, this.u32);
  }

  /**
   * In-kernel LAPIC in virtual-wire mode: LINT0 = ExtINT (the 8259 reaches the CPU),
   * LINT1 = NMI, software-enabled (MP spec 1.4 §3.6.2.2). Without it the in-kernel PIC's
   * interrupts are never accepted.
   */
  setupVirtualWire(): void {
    const lapic = new DataView(new ArrayBuffer(SIZEOF_LAPIC));
    this.vcpuIoctl('GET_LAPIC', KVM.GET_LAPIC, lapic);
    lapic.setUint32(0xf0, lapic.getUint32(0xf0, true) | 0x1ff, true);
    lapic.setUint32(0x350, 0x700, true);
    lapic.setUint32(0x360, 0x400, true);
    this.vcpuIoctl('SET_LAPIC', KVM.SET_LAPIC, lapic);
  }

  set requestInterruptWindow(on: boolean) { this.runBytes[RUN.REQUEST_INTERRUPT_WINDOW] = on ? 1 : 0; }
  get readyForInjection(): boolean { return this.runBytes[RUN.READY_FOR_INTERRUPT_INJECTION] !== 0; }
  get ifFlag(): boolean { return this.runBytes[RUN.IF_FLAG] !== 0; }

  /** KVM_RUN once and decode the exit into `this.exit`. */
  runOnce(timeoutNs: number): VcpuExit {
    const r = this.shim.run(this.vcpuFd, this.run, timeoutNs);
    const x = this.exit;
    if (r === -4 /* EINTR */ || r === -11 /* EAGAIN */) { x.kind = ExitKind.Kick; return x; }
    if (r < 0) throw new KvmError(`KVM_RUN failed (errno ${-r})`);
    decodeExit(this.runView, this.runBytes, x);
    return x;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.vcpuFd >= 0) this.shim.close(this.vcpuFd);
    this.shim.close(this.vmFd);
    this.shim.close(this.sysFd);
  }
}

/** Fills `x` from struct kvm_run (exit_reason and the exit union). */
export function decodeExit(v: DataView, bytes: Uint8Array, x: VcpuExit): void {
  const reason = v.getUint32(RUN.EXIT_REASON, true);
  x.code = reason;
  switch (reason) {
    case EXIT.IO: {
      x.kind = ExitKind.Io;
      x.write = v.getUint8(RUN.IO_DIRECTION) === 1;
      x.size = v.getUint8(RUN.IO_SIZE);
      x.port = v.getUint16(RUN.IO_PORT, true);
      x.count = v.getUint32(RUN.IO_COUNT, true);
      const off = Number(v.getBigUint64(RUN.IO_DATA_OFFSET, true));
      const len = x.count * x.size;
      // The data lies inside the mmap'd run area (api.rst); check rather than trust.
      if (off + len > bytes.byteLength || len === 0) { x.kind = ExitKind.Unknown; return; }
      x.data = bytes.subarray(off, off + len);
      return;
    }
    case EXIT.MMIO:
      x.kind = ExitKind.Mmio;
      x.addr = Number(v.getBigUint64(RUN.MMIO_PHYS_ADDR, true));
      x.size = Math.min(8, v.getUint32(RUN.MMIO_LEN, true));
      x.write = v.getUint8(RUN.MMIO_IS_WRITE) !== 0;
      x.count = 1;
      x.data = bytes.subarray(RUN.MMIO_DATA, RUN.MMIO_DATA + 8);
      return;
    case EXIT.HLT: x.kind = ExitKind.Halt; return;
    case EXIT.IRQ_WINDOW_OPEN: x.kind = ExitKind.IrqWindow; return;
    case EXIT.INTR: x.kind = ExitKind.Kick; return;
    case EXIT.DEBUG: x.kind = ExitKind.Debug; x.code = v.getUint32(RUN.DEBUG_EXCEPTION, true); return;
    case EXIT.SHUTDOWN: x.kind = ExitKind.Shutdown; return;
    case EXIT.INTERNAL_ERROR: {
      x.kind = ExitKind.InternalError;
      x.code = v.getUint32(RUN.INTERNAL_SUBERROR, true);
      const n = Math.min(16, v.getUint32(RUN.INTERNAL_NDATA, true));
      x.detail = Array.from({ length: n }, (_, i) => Number(v.getBigUint64(RUN.INTERNAL_DATA + 8 * i, true)));
      return;
    }
    case EXIT.FAIL_ENTRY: x.kind = ExitKind.FailEntry; x.code = Number(v.getBigUint64(RUN.FAIL_ENTRY_REASON, true)); return;
    case EXIT.SYSTEM_EVENT: x.kind = ExitKind.SystemEvent; x.code = v.getUint32(RUN.U, true); return;
    default: x.kind = ExitKind.Unknown; return;
  }
}
