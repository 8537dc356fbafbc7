// Architectural constants (Intel SDM Vol.1 §3.4, Vol.3A §2.3-2.5).

// General-purpose register numbers (ModRM encoding order).
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
/** A register slot that always holds zero: effective-address terms that are absent point here. */
export const REG_ZERO = 16;

// Segment registers (SReg encoding order).
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

// EFLAGS bits.
export const CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9, DF = 1 << 10, OF = 1 << 11;
export const IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

// CR0 bits.
export const CR0_PE = 1 << 0, CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_ET = 1 << 4, CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16, CR0_AM = 1 << 18, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 1 << 31;
// CR4 bits.
export const CR4_VME = 1 << 0, CR4_PVI = 1 << 1, CR4_TSD = 1 << 2, CR4_DE = 1 << 3, CR4_PSE = 1 << 4, CR4_PAE = 1 << 5;
export const CR4_MCE = 1 << 6, CR4_PGE = 1 << 7, CR4_PCE = 1 << 8, CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10;

// Exception vectors (SDM Vol.3A §6.3, Table 6-1).
export const DE = 0, DB = 1, NMI = 2, BP = 3, OFV = 4, BR = 5, UD = 6, NM = 7, DF_ = 8, TS = 10, NP = 11, SS_ = 12, GP = 13, PF_ = 14, MF = 16, AC_ = 17;

/** Descriptor access-rights word as stored: bits 0-7 = descriptor byte 5, bits 12-15 = flags nibble (AVL, L, D/B, G). */
export const AR_TYPE = 0x0f, AR_S = 0x10, AR_DPL = 0x60, AR_P = 0x80, AR_AVL = 0x1000, AR_L = 0x2000, AR_DB = 0x4000, AR_G = 0x8000;
