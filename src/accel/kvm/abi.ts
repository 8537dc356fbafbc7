// KVM ABI for x86-64 hosts: ioctl numbers, exit reasons and struct layouts
// (Documentation/virt/kvm/api.rst; include/uapi/linux/kvm.h, arch/x86/include/uapi/asm/kvm.h).
// test/accel/kvm-abi.test.ts checks every number here against the real header,
// through the constants the shim compiles in.

const IOC_WRITE = 1, IOC_READ = 2, KVMIO = 0xae;
const ioc = (dir: number, nr: number, size: number): number => ((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
const io = (nr: number): number => ioc(0, nr, 0);
const iow = (nr: number, size: number): number => ioc(IOC_WRITE, nr, size);
const ior = (nr: number, size: number): number => ioc(IOC_READ, nr, size);
const iowr = (nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, nr, size);

export const SIZEOF_REGS = 144, SIZEOF_SREGS = 312, SIZEOF_SEGMENT = 24, SIZEOF_EVENTS = 64, SIZEOF_GUEST_DEBUG = 72;
export const SIZEOF_CPUID_ENTRY2 = 40, SIZEOF_MEM_REGION = 32, SIZEOF_LAPIC = 1024;

export const KVM = {
  GET_API_VERSION: io(0x00),
  CREATE_VM: io(0x01),
  CHECK_EXTENSION: io(0x03),
  GET_VCPU_MMAP_SIZE: io(0x04),
  GET_SUPPORTED_CPUID: iowr(0x05, 8),
  CREATE_VCPU: io(0x41),
  SET_USER_MEMORY_REGION: iow(0x46, SIZEOF_MEM_REGION),
  SET_TSS_ADDR: io(0x47),
  SET_IDENTITY_MAP_ADDR: iow(0x48, 8),
  CREATE_IRQCHIP: io(0x60),
  IRQ_LINE: iow(0x61, 8),
  IRQFD: iow(0x76, 32),
  CREATE_PIT2: iow(0x77, 64),
  IOEVENTFD: iow(0x79, 64),
  RUN: io(0x80),
  GET_REGS: ior(0x81, SIZEOF_REGS),
  SET_REGS: iow(0x82, SIZEOF_REGS),
  GET_SREGS: ior(0x83, SIZEOF_SREGS),
  SET_SREGS: iow(0x84, SIZEOF_SREGS),
  INTERRUPT: iow(0x86, 4),
  SET_MSRS: iow(0x89, 8),
  SET_FPU: iow(0x8d, 416),
  GET_LAPIC: ior(0x8e, SIZEOF_LAPIC),
  SET_LAPIC: iow(0x8f, SIZEOF_LAPIC),
  SET_CPUID2: iow(0x90, 8),
  GET_MP_STATE: ior(0x98, 4),
  NMI: io(0x9a),
  SET_GUEST_DEBUG: iow(0x9b, SIZEOF_GUEST_DEBUG),
  GET_VCPU_EVENTS: ior(0x9f, SIZEOF_EVENTS),
  SET_VCPU_EVENTS: iow(0xa0, SIZEOF_EVENTS),
} as const;

export const KVM_API_VERSION = 12;

/** kvm_run.exit_reason values. */
export const EXIT = {
  UNKNOWN: 0, EXCEPTION: 1, IO: 2, HYPERCALL: 3, DEBUG: 4, HLT: 5, MMIO: 6, IRQ_WINDOW_OPEN: 7, SHUTDOWN: 8,
  FAIL_ENTRY: 9, INTR: 10, INTERNAL_ERROR: 17, SYSTEM_EVENT: 24,
} as const;

export const CAP = { IRQCHIP: 0, SET_TSS_ADDR: 4, PIT2: 33, SET_GUEST_DEBUG: 23, VCPU_EVENTS: 41, IMMEDIATE_EXIT: 136 } as const;

/** Offsets in struct kvm_run. */
export const RUN = {
  REQUEST_INTERRUPT_WINDOW: 0, IMMEDIATE_EXIT: 1, EXIT_REASON: 8, READY_FOR_INTERRUPT_INJECTION: 12, IF_FLAG: 13,
  /** The exit union. */
  U: 32,
  IO_DIRECTION: 32, IO_SIZE: 33, IO_PORT: 34, IO_COUNT: 36, IO_DATA_OFFSET: 40,
  MMIO_PHYS_ADDR: 32, MMIO_DATA: 40, MMIO_LEN: 48, MMIO_IS_WRITE: 52,
  DEBUG_EXCEPTION: 32, DEBUG_PC: 40, DEBUG_DR6: 48, DEBUG_DR7: 56,
  INTERNAL_SUBERROR: 32, INTERNAL_NDATA: 36, INTERNAL_DATA: 40,
  FAIL_ENTRY_REASON: 32,
} as const;
export const SIZEOF_RUN = 2352;

/** struct kvm_sregs: eight kvm_segment (cs ds es fs gs ss tr ldt), gdt, idt, control registers. */
export const SREGS = {
  CS: 0, DS: 24, ES: 48, FS: 72, GS: 96, SS: 120, TR: 144, LDT: 168, GDT: 192, IDT: 208,
  CR0: 224, CR2: 232, CR3: 240, CR4: 248, CR8: 256, EFER: 264, APIC_BASE: 272, INTERRUPT_BITMAP: 280,
} as const;

/** struct kvm_vcpu_events offsets. */
export const EVENTS = {
  EXC_INJECTED: 0, EXC_NR: 1, EXC_HAS_ERROR_CODE: 2, EXC_PENDING: 3, EXC_ERROR_CODE: 4,
  INT_INJECTED: 8, INT_NR: 9, INT_SOFT: 10, INT_SHADOW: 11, NMI_INJECTED: 12, NMI_PENDING: 13, NMI_MASKED: 14,
  FLAGS: 20, EXC_HAS_PAYLOAD: 55, EXC_PAYLOAD: 56,
} as const;

export const GUESTDBG_ENABLE = 0x1, GUESTDBG_SINGLESTEP = 0x2;
export const CPUID_FLAG_SIGNIFICANT_INDEX = 1;
export const MP_STATE_HALTED = 3;
