// The contract between the integer core (src/cpu) and the x87 unit (src/cpu/fpu).
// The core decodes prefixes, the ESC opcode (D8..DF), the ModRM byte and the
// effective address; the FPU does everything else through this host interface.

/** Segment register numbers as the ModRM/SReg encoding uses them. */
export const SEG_ES = 0, SEG_CS = 1, SEG_SS = 2, SEG_DS = 3, SEG_FS = 4, SEG_GS = 5;

/** CR0 bits the FPU cares about. */
export const CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_NE = 1 << 5;

/** EFLAGS bits FCOMI/FUCOMI/FCMOVcc use. */
export const FL_CF = 1 << 0, FL_PF = 1 << 2, FL_AF = 1 << 4, FL_ZF = 1 << 6, FL_SF = 1 << 7, FL_OF = 1 << 11;

export interface FpuHost {
  /**
   * Guest memory through segmentation and paging. These may throw the core's fault
   * sentinel (a #GP/#SS/#PF for the guest); the FPU must not catch it, and must
   * not have changed its own state before the last access that can fault, so the
   * instruction restarts cleanly (read all operands first, write results last; for
   * multi-byte stores such as FSTP m80 or FSAVE call `probeWrite` before writing).
   */
  read8(seg: number, off: number): number;
  read16(seg: number, off: number): number;
  read32(seg: number, off: number): number;
  write8(seg: number, off: number, v: number): void;
  write16(seg: number, off: number, v: number): void;
  write32(seg: number, off: number, v: number): void;
  /** Checks that [off, off+len) is writable (limits, paging) without writing; faults like a write. */
  probeWrite(seg: number, off: number, len: number): void;
  /** Same for reads. */
  probeRead(seg: number, off: number, len: number): void;

  /** Current CR0 (EM, MP, TS, NE). */
  readonly cr0: number;
  /** EFLAGS as the guest sees it (for FCMOVcc), with lazy flags materialised. */
  getEflags(): number;
  /** Sets ZF, PF, CF to the given values and clears OF, SF, AF (FCOMI/FUCOMI, SDM Vol.2A). */
  setEflagsZPC(zf: boolean, pf: boolean, cf: boolean): void;
  /** FSTSW AX / FNSTSW AX. */
  setAX(v: number): void;

  /** Raise a CPU exception and abandon the instruction (#UD = 6, #NM = 7, #MF = 16). Never returns. */
  raise(vector: number): never;
  /** FERR# output; with CR0.NE=0 the platform turns it into IRQ13. */
  setFerr(asserted: boolean): void;

  /** Real mode or virtual-8086 mode (selects the real-mode FSTENV/FSAVE layouts). */
  readonly realMode: boolean;
}

/** One decoded x87 instruction, handed to the FPU by the core. */
export interface FpuInsn {
  /** D8..DF. */
  op: number;
  /** The ModRM byte. mod == 3 means a register form. */
  modrm: number;
  /** For memory forms: the effective segment (after overrides) and offset. */
  seg: number;
  off: number;
  /** Operand size 16 or 32 (selects FSTENV/FLDENV/FSAVE/FRSTOR layout). */
  osize: 16 | 32;
  /** Linear-independent pointers for FIP/FDP bookkeeping: CS selector and EIP of the instruction, data selector. */
  csSel: number;
  eip: number;
  dsSel: number;
}
