import {
  AC, AF, ARITH_FLAGS, AR_DB, AR_P, AR_S, CF, CR0_ET, CR0_PE, CR0_PG, CR0_WP, CS, DB, DF, DF_, DS, ES, ESP, FS, GP, GS, ID, IF,
  IOPL, NT, OF, PF, PF_, RF, SF, SS, SS_, TF, VM, ZF, CR4_PSE, CR4_PGE, CR4_PAE, CR0_CD, CR0_NW, EDX, CR0_AM, AC_,
} from './consts';
import { Exit, type InterruptLine, type MsrHandler, type PortIo } from './interfaces';
import { Insn } from './insn';
import { decode } from './decoder';
import type { PhysMemory } from '../mmu/physmem';
import { PAGE_MMIO, PAGE_RAM, PAGE_TRACKED } from '../mmu/physmem';
import { walk32, walkPae, newWalkResult, ACC_WRITE, ACC_USER, ACC_FETCH } from '../mmu/walker';
import { Rmap, type RmapOwner, type RmapStats } from '../mmu/rmap';
import { Tlb, TLB_D, TLB_G, TLB_RAM, TLB_U, TLB_V, TLB_W, TLB_X, type TlbStats } from '../mmu/tlb';
import { deliverInterrupt, INT_EXT, INT_EXC } from './interrupts';
import type { X87Unit } from './x87-slot';
import { SIGNATURE, type CpuidPolicy } from './cpuid';
import type { FpuHost } from './fpu-iface';
import { Block, BLOCK_MAX, continuesBlock, regionSuccessors, REGION_BLOCKS, REGION_INSNS } from './block';
import { compileRegion, type BlockFn } from './jit';
import { compileThresholdDefault, fastPathDefaults } from './fastpaths';
import { compileRegionWasm } from './wasm-jit';

/** Thrown (one preallocated instance) to abandon an instruction that faulted. Never escapes Cpu.run. */
export class CpuFault {
  readonly name = 'CpuFault';
}
export const FAULT = new CpuFault();

/** A guest error: the guest did something the emulated machine cannot do. Stops the run with a message. */
export class GuestError extends Error {}

// Lazy-flag operations.
export const LF_ADD = 0, LF_ADC = 1, LF_SUB = 2, LF_SBB = 3, LF_LOGIC = 4;

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, p = 1;
  while (b) { p ^= b & 1; b >>= 1; }
  PARITY[i] = p ? PF : 0;
}

/** Byte offsets of the 8-bit registers AL,CL,DL,BL,AH,CH,DH,BH in the little-endian register buffer. */
const R8_INDEX = new Uint8Array([0, 4, 8, 12, 1, 5, 9, 13]);
const SIZE_MASK = [0, 0xff, 0xffff, 0, 0xffffffff];
const SIGN_SHIFT = [0, 7, 15, 0, 31];

export interface DescriptorTableReg { base: number; limit: number }

export interface CpuOptions {
  /** Cache decoded instructions by physical address (fast path; default on). */
  decodeCache?: boolean;
  /** Cache translations in the software TLB (fast path; default on). Off: every access walks. */
  tlb?: boolean;
  /** Keep other address spaces' translations across CR3 loads (default on). */
  tlbKeepAcrossCr3?: boolean;
  /** Reverse-map pool capacity (entries). */
  rmapCapacity?: number;
  /**
   * Block dispatch (fast path; default on; needs the decode cache): straight-line runs of
   * decoded instructions execute without per-instruction lookups and interrupt checks.
   */
  blocks?: boolean;
  /** Compile hot blocks to JavaScript (second tier; default on; needs blocks). */
  compile?: boolean;
  /** Successor links between blocks (fast path; default on; needs blocks). */
  links?: boolean;
  /** Blocks continue past 32-bit Jcc, a side exit (fast path; default on; needs blocks). */
  sideExits?: boolean;
  /** A compiled block that jumps back to its start loops inside its function (fast path; default on; needs compile). */
  loops?: boolean;
  /** A compiled block that ends in a jump, call or return runs its linked compiled successor directly (fast path; default on; needs compile and links). */
  chain?: boolean;
  /** Compiled blocks access aligned RAM operands through the typed-array fast path (fast path; default on; needs compile). */
  ramFast?: boolean;
  /** Compile hot blocks together with the blocks they branch to on the same page (see buildRegion). */
  regions?: boolean;
  /** REP MOVS/STOS and REPNE SCASB over plain RAM a page at a time (fast path; default on). */
  repFast?: boolean;
  /** Runs of a block through the interpreting executor before it is compiled (default 2000 or TS86_JIT_THRESHOLD; 1 compiles at once, for tests). */
  compileThreshold?: number;
  /**
   * Regions compiled to WebAssembly where wasm-jit.ts has forms for all their instructions
   * (fast path; default on; needs compile, regions, ramFast and guest memory from
   * PhysMemory.inWasmMemory).
   */
  wasm?: boolean;
}

/** Entries of the fetch-page cache (a power of two). */
const FETCH_WAYS = 256;

/** Rmap keys: bit 30 marks a decoded-code page (low bits: frame); otherwise a TLB entry. */
const CODE_KEY = 1 << 30;

export class Cpu implements RmapOwner, FpuHost {
  // ---- registers -------------------------------------------------------
  /**
   * Low 32 bits of the 16 GPRs; index 16 is REG_ZERO (always 0), 17 scratch. With guest
   * memory in a WebAssembly arena they live at the start of its scratch area, where
   * WebAssembly regions (wasm-jit.ts) read and write them in place.
   */
  readonly r32: Int32Array;
  readonly r16: Uint16Array;
  readonly r8: Uint8Array;
  /** High 32 bits of the GPRs (long mode, later). */
  readonly rhi = new Int32Array(16);
  eip = 0;
  /** Offset of the memory operand of the current read-modify-write instruction. */
  rmwOff = 0;
  /** EIP of the instruction being executed (faults restart here). */
  startEip = 0;

  // Segment registers: visible selector and the hidden descriptor cache.
  readonly segSel = new Int32Array(6);
  readonly segBase = new Float64Array(6);
  readonly segLimit = new Float64Array(6);
  /** Access rights (consts AR_*). */
  readonly segAr = new Int32Array(6);
  /** Precomputed offset window and permissions for fast checks: [min, max], bit0 readable, bit1 writable, bit2 usable. */
  readonly segMin = new Float64Array(6);
  readonly segMax = new Float64Array(6);
  readonly segPerm = new Uint8Array(6);
  /**
   * Per segment: bit0 readable, bit1 writable, set only when the whole 4 GiB offset range
   * is valid (present, not expand-down, limit 0xffffffff): then an aligned access needs no
   * limit check (the aligned fast path below).
   */
  readonly segFull = new Uint8Array(6);

  gdtr: DescriptorTableReg = { base: 0, limit: 0xffff };
  idtr: DescriptorTableReg = { base: 0, limit: 0x3ff };
  ldtrSel = 0;
  ldtr = { base: 0, limit: 0, ar: 0 };
  trSel = 0;
  tr = { base: 0, limit: 0, ar: 0 };

  cr0 = CR0_ET;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  readonly dr = new Float64Array(8);
  // SYSENTER MSRs.
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  /** Other MSRs we store but give no meaning (MTRRs, PAT, misc enables). */
  readonly msrStore = new Map<number, [number, number]>();

  // Flags: `flags` holds every bit except those listed in lfMask, which are derived from the lazy state.
  flags = 2;
  lfMask = 0;
  lfOp = LF_LOGIC;
  lfA = 0;
  lfB = 0;
  lfRes = 0;
  lfSize: 1 | 2 | 4 = 4;
  lfCin = 0;

  // ---- mode caches -----------------------------------------------------
  cpl = 0;
  /** CS.D: default operand/address size 32. */
  code32 = false;
  /** SS.B: stack pointer is ESP (else SP). */
  stack32 = false;
  /** Alignment checking active: CR0.AM, EFLAGS.AC and CPL 3 (SDM Vol.3A §6.15, #AC). */
  alignCheck = false;
  /** CR0.PE set and EFLAGS.VM clear. */
  protectedMode = false;
  paging = false;
  /** Address mask for the A20 gate (0xffffffff with A20 enabled). */
  a20Mask = 0xffffffff;

  // ---- run state -------------------------------------------------------
  icount = 0;
  halted = false;
  /** Set by HLT/requestStop to leave the inner loop. */
  private stopReason: Exit | -1 = -1;
  /** Instruction count before which external interrupts are inhibited (STI / MOV SS shadow). */
  inhibitUntil = -1;
  /** Pending #DB trap bits to deliver after the current instruction (DR6 format). */
  pendingDbTrap = 0;
  nmiPending = false;
  nmiBlocked = false;
  guestError = '';
  excVector = 0;
  /** The most recent exception vector raised by an instruction (for diagnostics), or -1. */
  lastException = -1;
  excError = -1;
  /** Set while an exception is being delivered, for double-fault classification. */
  deliveringVector = -1;

  readonly mem: PhysMemory;
  io: PortIo;
  intr: InterruptLine | null = null;
  readonly msrHandlers: MsrHandler[] = [];
  fpu: X87Unit | null = null;
  /** Called when the CPU must reset the machine (triple fault), before run returns Exit.Shutdown. */
  onShutdown: ((why: string) => void) | null = null;
  shutdownReason = '';

  // ---- decoded instruction cache ----------------------------------------
  readonly decodeCacheEnabled: boolean;
  private readonly codeCache: (Insn[] | undefined)[];
  private readonly scratchInsn = new Insn();
  /** Counters (plain fields: no object indirection on the hot path). */
  statDecodes = 0;
  statCacheHits = 0;
  statCodeInvalidations = 0;
  /** TLB hits, counted here (a plain field on the hot path) and reported in mmuStats(). */
  statTlbHits = 0;
  /** Blocks built, blocks compiled, block executions. */
  statBlocks = 0;
  statCompiled = 0;
  /** Blocks given compiled code (a region covers several). */
  statCompiledBlocks = 0;
  statBlockRuns = 0;

  // ---- blocks and the compiler -------------------------------------------
  readonly blocksEnabled: boolean;
  readonly compileEnabled: boolean;
  readonly linksEnabled: boolean;
  readonly sideExitsEnabled: boolean;
  readonly loopsEnabled: boolean;
  readonly chainEnabled: boolean;
  readonly ramFastEnabled: boolean;
  readonly regionsEnabled: boolean;
  readonly wasmEnabled: boolean;
  /** Regions compiled to WebAssembly (wasm-jit.ts). */
  statWasm = 0;
  /** WebAssembly region calls that ran the module, instructions they ran, and calls that stopped before an instruction needing the interpreter (return 0). */
  statWasmRuns = 0;
  statWasmInsns = 0;
  statWasmStops = 0;
  /** Direct calls from one WebAssembly region to another (through the entry map, without the run loop). */
  statWasmChains = 0;
  /** Calls whose entry conditions did not hold (the JavaScript region ran). */
  statWasmFallbacks = 0;
  /** REP MOVS/STOS and REPNE SCASB run a page at a time through the typed arrays (see ops-data repLoop). */
  readonly repFastEnabled: boolean;
  readonly compileThreshold: number;
  /**
   * Set when a running block must return to the run loop after the current instruction:
   * decoded code or a translation was dropped (self-modifying code, page-table writes,
   * INVLPG, CR3), the mode changed, or a stop was requested.
   */
  blockAbort = false;
  /** Bumped whenever what CS:EIP fetches could change (see Block.linkEpoch). */
  codeEpoch = 0;
  /** The block that ran last (its successor links are filled in by the next lookup). */
  private prevBlock: Block | null = null;
  get stats(): { decodes: number; cacheHits: number; codeInvalidations: number } {
    return { decodes: this.statDecodes, cacheHits: this.statCacheHits, codeInvalidations: this.statCodeInvalidations };
  }

  // ---- MMU: software TLB and reverse map ----------------------------------
  readonly rmap: Rmap;
  readonly tlb: Tlb;
  readonly tlbEnabled: boolean;
  /** The current address space's TLB entries (fast path). */
  private tlbCur: Int32Array;
  /** Entry bits a hit needs, by access kind (ACC_* bits). */
  private readonly tlbNeed = new Int32Array(8);
  private readonly codeGen: Int32Array;
  private codeGenNext = 1;

  constructor(mem: PhysMemory, io: PortIo, opts: CpuOptions = {}) {
    const w = mem.wasm;
    const regBuf = w ? w.memory.buffer : new ArrayBuffer(4 * 18), regOff = w ? w.scratchOffset : 0;
    this.r32 = new Int32Array(regBuf, regOff, 18);
    this.r16 = new Uint16Array(regBuf, regOff, 36);
    this.r8 = new Uint8Array(regBuf, regOff, 72);
    this.r32.fill(0);
    this.mem = mem;
    this.io = io;
    const fp = fastPathDefaults();
    this.decodeCacheEnabled = opts.decodeCache ?? fp.decodeCache;
    this.tlbEnabled = opts.tlb ?? fp.tlb;
    this.blocksEnabled = this.decodeCacheEnabled && (opts.blocks ?? fp.blocks);
    this.compileEnabled = this.blocksEnabled && (opts.compile ?? fp.compile);
    this.linksEnabled = this.blocksEnabled && (opts.links ?? fp.links);
    this.sideExitsEnabled = this.blocksEnabled && (opts.sideExits ?? fp.sideExits);
    this.loopsEnabled = this.compileEnabled && (opts.loops ?? fp.loops);
    this.chainEnabled = this.compileEnabled && this.linksEnabled && (opts.chain ?? fp.chain);
    this.ramFastEnabled = this.compileEnabled && (opts.ramFast ?? fp.ramFast);
    this.regionsEnabled = this.loopsEnabled && (opts.regions ?? fp.regions);
    this.wasmEnabled = this.ramFastEnabled && this.regionsEnabled && mem.wasm !== null && (opts.wasm ?? fp.wasm);
    this.repFastEnabled = opts.repFast ?? fp.repFast;
    this.compileThreshold = Math.max(1, opts.compileThreshold ?? compileThresholdDefault());
    this.codeCache = new Array<Insn[] | undefined>(mem.pageKind.length);
    this.codeGen = new Int32Array(mem.pageKind.length);
    this.rmap = new Rmap(mem.pageKind.length, this, opts.rmapCapacity ?? 1 << 16);
    this.rmap.onTracked = (frame, tracked) => {
      if (tracked) mem.pageKind[frame] |= PAGE_TRACKED; else mem.pageKind[frame] &= ~PAGE_TRACKED;
    };
    mem.onTrackedWrite = (frame, off, size) => this.rmap.write(frame, off, size);
    // With guest memory in a WebAssembly arena the TLB tables live there too (wasm-jit.ts reads them).
    this.tlb = new Tlb(this.rmap, 0, 4, opts.tlbKeepAcrossCr3 ?? true, mem.wasm ? (s) => mem.arenaTlbTable(s) : null);
    this.tlbCur = this.tlb.cur;
    this.reset();
  }

  // RmapOwner: dependents are TLB entries and decoded-code pages.
  isLive(key: number, gen: number): boolean {
    if (key & CODE_KEY) { const f = key & ~CODE_KEY; return this.codeCache[f] !== undefined && this.codeGen[f] === gen; }
    return this.tlb.isLive(key, gen);
  }
  drop(key: number, gen: number): void {
    this.resetFetchPage();
    if (key & CODE_KEY) {
      const f = key & ~CODE_KEY;
      if (this.codeCache[f] !== undefined && this.codeGen[f] === gen) { this.codeCache[f] = undefined; this.statCodeInvalidations++; }
      return;
    }
    this.tlb.drop(key, gen);
  }

  // ====================================================================
  // Reset and entry states
  // ====================================================================

  /** Power-on / RESET state (SDM Vol.3A §9.1.1, Table 9-1). */
  reset(): void {
    this.r32.fill(0);
    this.rhi.fill(0);
    this.r32[EDX] = SIGNATURE; // EDX after RESET holds the processor signature (SDM Vol.3A §9.1.4)
    this.flags = 2;
    this.lfMask = 0;
    this.cr0 = CR0_ET | CR0_CD | CR0_NW;
    this.cr2 = this.cr3 = this.cr4 = 0;
    this.efer = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0;
    this.dr[7] = 0x400;
    this.gdtr = { base: 0, limit: 0xffff };
    this.idtr = { base: 0, limit: 0x3ff };
    this.ldtrSel = 0;
    this.ldtr = { base: 0, limit: 0xffff, ar: 0x82 };
    this.trSel = 0;
    this.tr = { base: 0, limit: 0xffff, ar: 0x8b };
    for (let s = 0; s < 6; s++) this.setSegCache(s, 0, 0, 0xffff, AR_P | AR_S | 0x03 /* data RW accessed */);
    this.setSegCache(CS, 0xf000, 0xffff0000, 0xffff, AR_P | AR_S | 0x0b /* code RX accessed */);
    this.eip = 0xfff0;
    this.sysenterCs = this.sysenterEsp = this.sysenterEip = 0;
    this.tscOffset = 0n;
    this.halted = false;
    this.inhibitUntil = -1;
    this.pendingDbTrap = 0;
    this.nmiPending = this.nmiBlocked = false;
    this.guestError = '';
    this.shutdownReason = '';
    this.deliveringVector = -1;
    this.msrStore.clear();
    this.fpu?.reset();
    this.updateMode();
    this.flushCodeCache();
    this.flushTlb(true);
  }

  /** Real mode with CS:IP = cs:ip, segments zero-based, SS:SP as given. */
  setupReal(cs: number, ip: number, ss = 0, sp = 0xfffe): void {
    this.cr0 &= ~(CR0_PE | CR0_PG);
    for (let s = 0; s < 6; s++) this.setSegCache(s, 0, 0, 0xffff, AR_P | AR_S | 0x03);
    this.setSegCache(CS, cs, cs << 4, 0xffff, AR_P | AR_S | 0x0b);
    this.setSegCache(SS, ss, ss << 4, 0xffff, AR_P | AR_S | 0x03);
    this.r32[ESP] = sp;
    this.eip = ip;
    this.updateMode();
  }

  /**
   * 32-bit flat protected mode (the state multiboot and the Linux 32-bit boot protocol
   * hand over): CS = 0x10-style flat code, data segments flat, no paging, IF=0.
   * The selectors are nominal (0x08 code, 0x10 data); the guest must load its own GDT
   * before reloading any segment register (Multiboot spec §3.2).
   */
  setupFlat32(entry: number, codeSel = 0x08, dataSel = 0x10): void {
    this.cr0 = (this.cr0 | CR0_PE) & ~(CR0_PG | CR0_CD | CR0_NW);
    this.setEflags(2);
    for (let s = 0; s < 6; s++) this.setSegCache(s, dataSel, 0, 0xffffffff, AR_P | AR_S | 0x03 | AR_DB | 0x8000);
    this.setSegCache(CS, codeSel, 0, 0xffffffff, AR_P | AR_S | 0x0b | AR_DB | 0x8000);
    this.eip = entry >>> 0;
    this.updateMode();
  }

  // ====================================================================
  // Mode bookkeeping
  // ====================================================================

  /** Recomputes cached mode bits after CR0/EFLAGS.VM/CS/SS changes. */
  updateMode(): void {
    this.resetFetchPage();
    const pe = (this.cr0 & CR0_PE) !== 0;
    const vm = (this.flags & VM) !== 0;
    this.protectedMode = pe && !vm;
    this.paging = pe && (this.cr0 & CR0_PG) !== 0;
    this.code32 = pe && !vm && (this.segAr[CS] & AR_DB) !== 0;
    this.stack32 = pe && !vm && (this.segAr[SS] & AR_DB) !== 0;
    this.cpl = !pe ? 0 : vm ? 3 : this.segSel[CS] & 3;
    this.alignCheck = (this.cr0 & CR0_AM) !== 0 && (this.flags & AC) !== 0 && this.cpl === 3;
  }

  /** Loads a segment's hidden cache and recomputes its fast-check window. */
  setSegCache(s: number, sel: number, base: number, limit: number, ar: number): void {
    this.segSel[s] = sel & 0xffff;
    this.segBase[s] = base >>> 0;
    this.segLimit[s] = limit >>> 0;
    this.segAr[s] = ar;
    this.recomputeSegWindow(s);
    if (s === CS || s === SS) this.updateMode();
  }

  recomputeSegWindow(s: number): void {
    const ar = this.segAr[s];
    const limit = this.segLimit[s];
    let perm = 0;
    if (ar & AR_P) {
      perm |= 4;
      if (!(ar & AR_S)) perm = 4 | 1 | 2; // system segments are never loaded into data registers; harmless
      else if (ar & 0x08) { if (ar & 0x02) perm |= 1; } // code: readable if R
      else { perm |= 1; if (ar & 0x02) perm |= 2; } // data: always readable, writable if W
    }
    // In real and virtual-8086 mode every segment is readable and writable (SDM Vol.3A §20.1).
    if (!(this.cr0 & CR0_PE) || (this.flags & VM)) perm = 7;
    const expandDown = (ar & AR_S) !== 0 && (ar & 0x0c) === 0x04;
    if (expandDown) {
      this.segMin[s] = limit + 1;
      this.segMax[s] = ar & AR_DB ? 0xffffffff : 0xffff;
    } else {
      this.segMin[s] = 0;
      this.segMax[s] = limit;
    }
    this.segPerm[s] = perm;
    this.segFull[s] = this.segMin[s] === 0 && this.segMax[s] === 0xffffffff ? perm & 3 : 0;
  }

  // ====================================================================
  // Registers
  // ====================================================================

  getReg(r: number, size: number): number {
    if (size === 4) return this.r32[r] >>> 0;
    if (size === 2) return this.r16[r << 1];
    return this.r8[R8_INDEX[r]];
  }

  setReg(r: number, size: number, v: number): void {
    if (size === 4) this.r32[r] = v;
    else if (size === 2) this.r16[r << 1] = v;
    else this.r8[R8_INDEX[r]] = v;
  }

  get esp(): number { return this.r32[ESP] >>> 0; }

  // ====================================================================
  // Flags
  // ====================================================================

  /** Records an arithmetic result for lazy OSZAPC evaluation. Values are unsigned, masked to size. */
  setLazy(op: number, a: number, b: number, res: number, size: 1 | 2 | 4): void {
    this.lfOp = op;
    this.lfA = a;
    this.lfB = b;
    this.lfRes = res;
    this.lfSize = size;
    this.lfMask = ARITH_FLAGS;
  }

  /** As setLazy, with CF given (0 or 1) instead of derived: INC and DEC keep CF (SDM Vol.2A INC, DEC). */
  setLazyKeepCF(op: number, a: number, b: number, res: number, size: 1 | 2 | 4, cf: number): void {
    this.setLazy(op, a, b, res, size);
    this.lfMask = ARITH_FLAGS & ~CF;
    this.flags = (this.flags & ~CF) | cf;
  }

  /** Result-only lazy flags (SF, ZF, PF); the caller sets CF/OF/AF eagerly in `flags`. */
  setLazySZP(res: number, size: 1 | 2 | 4, cfOfAf: number): void {
    this.lfOp = LF_LOGIC;
    this.lfRes = res;
    this.lfSize = size;
    this.lfMask = SF | ZF | PF;
    this.flags = (this.flags & ~(CF | OF | AF)) | cfOfAf;
  }

  /**
   * The six arithmetic flags implied by the lazy state. The operands and result are taken
   * modulo 2^32: compiled code stores 32-bit ones as int32 (jit.ts emitAlu).
   */
  private lazyBits(): number {
    const size = this.lfSize, a = this.lfA >>> 0, b = this.lfB >>> 0, r = this.lfRes >>> 0;
    const sh = SIGN_SHIFT[size];
    let f = PARITY[r & 0xff];
    if (r === 0) f |= ZF;
    f |= ((r >>> sh) & 1) << 7;
    switch (this.lfOp) {
      case LF_ADD:
        if (r < a) f |= CF;
        f |= (((a ^ r) & (b ^ r)) >>> sh & 1) << 11;
        f |= (a ^ b ^ r) & AF;
        break;
      case LF_ADC:
        if (this.lfCin ? r <= a : r < a) f |= CF;
        f |= (((a ^ r) & (b ^ r)) >>> sh & 1) << 11;
        f |= (a ^ b ^ r) & AF;
        break;
      case LF_SUB:
        if (a < b) f |= CF;
        f |= (((a ^ b) & (a ^ r)) >>> sh & 1) << 11;
        f |= (a ^ b ^ r) & AF;
        break;
      case LF_SBB:
        if (this.lfCin ? a <= b : a < b) f |= CF;
        f |= (((a ^ b) & (a ^ r)) >>> sh & 1) << 11;
        f |= (a ^ b ^ r) & AF;
        break;
      default: // LF_LOGIC: CF=OF=0; AF is undefined, cleared as recent Intel CPUs do
        break;
    }
    return f;
  }

  getEflags(): number {
    let f = this.flags;
    if (this.lfMask) f = (f & ~this.lfMask) | (this.lazyBits() & this.lfMask);
    return (f | 2) >>> 0;
  }

  /** Writes EFLAGS (all bits; callers apply privilege masks first). */
  setEflags(v: number): void {
    const oldVm = this.flags & VM;
    this.flags = (v & 0x003f7fd5) | 2;
    this.lfMask = 0;
    if ((this.flags & VM) !== oldVm) this.updateMode();
    this.alignCheck = (this.cr0 & CR0_AM) !== 0 && (this.flags & AC) !== 0 && this.cpl === 3;
  }

  /** Materialises the lazy flags into `flags` (used before partial updates such as INC's CF preservation). */
  materializeFlags(): void {
    if (this.lfMask) {
      this.flags = (this.flags & ~this.lfMask) | (this.lazyBits() & this.lfMask);
      this.lfMask = 0;
    }
  }

  getCF(): number {
    if (!(this.lfMask & CF)) return this.flags & CF;
    const a = this.lfA >>> 0, b = this.lfB >>> 0, r = this.lfRes >>> 0;
    switch (this.lfOp) {
      case LF_ADD: return r < a ? 1 : 0;
      case LF_ADC: return (this.lfCin ? r <= a : r < a) ? 1 : 0;
      case LF_SUB: return a < b ? 1 : 0;
      case LF_SBB: return (this.lfCin ? a <= b : a < b) ? 1 : 0;
      default: return 0;
    }
  }
  getZF(): boolean { return this.lfMask & ZF ? this.lfRes === 0 : (this.flags & ZF) !== 0; }
  getSF(): boolean { return this.lfMask & SF ? ((this.lfRes >>> SIGN_SHIFT[this.lfSize]) & 1) !== 0 : (this.flags & SF) !== 0; }
  getOF(): boolean { return this.lfMask & OF ? (this.lazyBits() & OF) !== 0 : (this.flags & OF) !== 0; }
  getPF(): boolean { return this.lfMask & PF ? PARITY[this.lfRes & 0xff] !== 0 : (this.flags & PF) !== 0; }
  getAF(): boolean { return this.lfMask & AF ? (this.lazyBits() & AF) !== 0 : (this.flags & AF) !== 0; }

  /** Sets one arithmetic flag eagerly (materialises the others first). */
  setFlag(bit: number, on: boolean | number): void {
    this.materializeFlags();
    if (on) this.flags |= bit; else this.flags &= ~bit;
  }

  /** Evaluates condition code cc (0-15) as Jcc/SETcc/CMOVcc do (SDM Vol.1 Appendix B). */
  cond(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = this.getOF(); break;
      case 1: r = this.getCF() !== 0; break;
      case 2: r = this.getZF(); break;
      case 3: r = this.getCF() !== 0 || this.getZF(); break;
      case 4: r = this.getSF(); break;
      case 5: r = this.getPF(); break;
      case 6: r = this.getSF() !== this.getOF(); break;
      default: r = this.getZF() || this.getSF() !== this.getOF(); break;
    }
    return (cc & 1) ? !r : r;
  }

  static parity(v: number): number { return PARITY[v & 0xff]; }
  static mask(size: number): number { return SIZE_MASK[size]; }

  // ====================================================================
  // Faults
  // ====================================================================

  /** Abandons the current instruction with exception `vector` (error code `err`, or -1 for none). */
  raise(vector: number, err = -1): never {
    this.excVector = vector;
    this.excError = err;
    throw FAULT;
  }

  /** #GP(0), or #SS(0) when the segment is SS. */
  segFault(seg: number): never {
    return this.raise(seg === SS ? SS_ : GP, 0);
  }

  /** Stops the run with a guest error message (the run returns Exit.GuestError). */
  fail(msg: string): never {
    throw new GuestError(msg);
  }

  // ====================================================================
  // Linear memory (paging)
  // ====================================================================

  private readonly walkRes = newWalkResult();

  /**
   * Translates a linear address. `acc` is ACC_* bits. Raises #PF on failure.
   * With paging off the A20 gate applies. A TLB hit is one load and a mask compare.
   */
  translate(lin: number, acc: number): number {
    if (!this.paging) return (lin & this.a20Mask) >>> 0;
    const e = this.tlbCur[lin >>> 12];
    const need = this.tlbNeed[acc];
    if ((e & need) === need) {
      this.statTlbHits++;
      return ((e & 0xfffff000) | (lin & 0xfff)) >>> 0;
    }
    return this.tlbMiss(lin, acc);
  }

  private tlbMiss(lin: number, acc: number): number {
    const w = this.walkRes;
    const wp = (this.cr0 & CR0_WP) !== 0;
    this.tlb.stats.misses++;
    this.tlb.stats.walks++;
    if (this.cr4 & CR4_PAE) walkPae(this.mem, this.cr3, lin, acc, wp, (this.efer & 0x800) !== 0, w);
    else walk32(this.mem, this.cr3, lin, acc, wp, (this.cr4 & CR4_PSE) !== 0, w);
    if (!w.ok) {
      this.cr2 = lin >>> 0;
      this.raise(PF_, w.err);
    }
    const phys = (w.phys & this.a20Mask) >>> 0;
    if (this.tlbEnabled) {
      // Cache only translations whose paging structures are all in RAM (so the rmap sees their writes).
      let inRam = true;
      for (let d = 0; d < w.ndeps!; d++) if (!this.mem.isRam(w.deps![d])) inRam = false;
      if (inRam) {
        const p = w.perms!;
        const entry = (phys & 0xfffff000) | TLB_V | (p & 1 ? TLB_W : 0) | (p & 2 ? TLB_U : 0) | (w.dirty ? TLB_D : 0) |
          (p & 4 ? TLB_X : 0) | (w.global && this.cr4 & CR4_PGE ? TLB_G : 0) | (this.mem.isRam(phys) ? TLB_RAM : 0);
        this.tlb.fill(lin >>> 12, entry, w.deps!, w.depSizes!, w.ndeps!);
      }
    }
    return phys;
  }

  /** Side-effect-free translation for debuggers and dumps: no A/D updates, no faults, no TLB fill. Null when unmapped. */
  peekTranslate(lin: number): number | null {
    if (!this.paging) return (lin & this.a20Mask) >>> 0;
    const m = this.mem;
    const rd = (a: number): number => (m.isRam(a) ? m.view.getUint32(a, true) : 0);
    if (this.cr4 & CR4_PAE) {
      const pdpte = rd(((this.cr3 & 0xffffffe0) + ((lin >>> 30) << 3)) >>> 0);
      if (!(pdpte & 1)) return null;
      const pde = rd(((pdpte & 0xfffff000) + (((lin >>> 21) & 0x1ff) << 3)) >>> 0);
      if (!(pde & 1)) return null;
      if (pde & 0x80) return ((pde & 0xffe00000) | (lin & 0x1fffff)) >>> 0;
      const pte = rd(((pde & 0xfffff000) + (((lin >>> 12) & 0x1ff) << 3)) >>> 0);
      return pte & 1 ? ((pte & 0xfffff000) | (lin & 0xfff)) >>> 0 : null;
    }
    const pde = rd(((this.cr3 & 0xfffff000) | ((lin >>> 22) << 2)) >>> 0);
    if (!(pde & 1)) return null;
    if (pde & 0x80 && this.cr4 & CR4_PSE) return ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
    const pte = rd(((pde & 0xfffff000) | (((lin >>> 12) & 0x3ff) << 2)) >>> 0);
    return pte & 1 ? ((pte & 0xfffff000) | (lin & 0xfff)) >>> 0 : null;
  }

  /** Recomputes the TLB hit masks (CR0.WP and EFER.NXE change what a hit needs). */
  private updateTlbNeed(): void {
    const wp = (this.cr0 & CR0_WP) !== 0;
    const nxe = (this.efer & 0x800) !== 0 && (this.cr4 & CR4_PAE) !== 0;
    for (let acc = 0; acc < 8; acc++) {
      let n = TLB_V;
      if (acc & ACC_USER) n |= TLB_U;
      // Writes need the D bit already set (else the walk must set it), and W unless a supervisor write with WP=0.
      if (acc & ACC_WRITE) n |= TLB_D | (acc & ACC_USER || wp ? TLB_W : 0);
      if (acc & ACC_FETCH && nxe) n |= TLB_X;
      this.tlbNeed[acc] = n;
    }
  }

  private userAcc(): number { return this.cpl === 3 ? ACC_USER : 0; }

  lread8(lin: number): number { return this.mem.read8(this.translate(lin, this.userAcc())); }
  lread16(lin: number): number {
    if ((lin & 0xfff) === 0xfff) return this.lread8(lin) | (this.lread8((lin + 1) >>> 0) << 8);
    return this.mem.read16(this.translate(lin, this.userAcc()));
  }
  lread32(lin: number): number {
    if ((lin & 0xfff) > 0xffc) return (this.lread16(lin) | (this.lread16((lin + 2) >>> 0) << 16)) >>> 0;
    return this.mem.read32(this.translate(lin, this.userAcc()));
  }
  lwrite8(lin: number, v: number): void { this.mem.write8(this.translate(lin, this.userAcc() | ACC_WRITE), v); }
  lwrite16(lin: number, v: number): void {
    if ((lin & 0xfff) === 0xfff) {
      // Page-crossing: translate both pages before writing anything (no partial write on #PF).
      // CR2 names the first byte of the second page when that page faults.
      const acc = this.userAcc() | ACC_WRITE;
      const p0 = this.translate(lin, acc), p1 = this.translate((lin + 1) >>> 0, acc);
      this.mem.write8(p0, v & 0xff);
      this.mem.write8(p1, (v >>> 8) & 0xff);
      return;
    }
    this.mem.write16(this.translate(lin, this.userAcc() | ACC_WRITE), v);
  }
  lwrite32(lin: number, v: number): void {
    if ((lin & 0xfff) > 0xffc) {
      const acc = this.userAcc() | ACC_WRITE;
      const n0 = 0x1000 - (lin & 0xfff);
      const p0 = this.translate(lin, acc), p1 = this.translate((lin + n0) >>> 0, acc);
      for (let k = 0; k < 4; k++) this.mem.write8(k < n0 ? p0 + k : p1 + k - n0, (v >>> (8 * k)) & 0xff);
      return;
    }
    this.mem.write32(this.translate(lin, this.userAcc() | ACC_WRITE), v);
  }

  /** Writes `size` bytes at a linear address with an explicit privilege (stack switches). Both pages are checked first. */
  lwriteAs(lin: number, size: number, v: number, user: boolean): void {
    const acc = ACC_WRITE | (user ? ACC_USER : 0);
    const p0 = this.translate(lin, acc);
    const n0 = 0x1000 - (lin & 0xfff);
    const p1 = n0 < size ? this.translate((lin + n0) >>> 0, acc) : p0 + n0;
    for (let k = 0; k < size; k++) this.mem.write8(k < n0 ? p0 + k : p1 + k - n0, (v >>> (8 * k)) & 0xff);
  }

  /** Checks that a linear range is writable (paging) without writing. */
  probeLinearWrite(lin: number, len: number): void {
    if (!this.paging || len <= 0) return;
    const acc = this.userAcc() | ACC_WRITE;
    // Every page the range touches, first byte of each (CR2 names the first faulting byte).
    this.translate(lin, acc);
    for (let p = ((lin | 0xfff) + 1) >>> 0, end = lin + len; p < end && p !== 0; p = (p + 0x1000) >>> 0) this.translate(p, acc);
  }

  // Supervisor (implicit) accesses: descriptor tables, TSS, IDT. CPL is ignored (SDM Vol.3A §4.6.1).
  sread8(lin: number): number { return this.mem.read8(this.translate(lin, 0)); }
  sread16(lin: number): number { return this.sread8(lin) | (this.sread8((lin + 1) >>> 0) << 8); }
  sread32(lin: number): number { return (this.sread16(lin) | (this.sread16((lin + 2) >>> 0) << 16)) >>> 0; }
  swrite8(lin: number, v: number): void { this.mem.write8(this.translate(lin, ACC_WRITE), v); }
  swrite16(lin: number, v: number): void { this.swrite8(lin, v & 0xff); this.swrite8((lin + 1) >>> 0, (v >>> 8) & 0xff); }
  swrite32(lin: number, v: number): void { this.swrite16(lin, v & 0xffff); this.swrite16((lin + 2) >>> 0, (v >>> 16) & 0xffff); }

  // ====================================================================
  // Segmented memory
  // ====================================================================

  /** Checks a data access of `size` bytes at seg:off and returns the linear address. */
  private checkRead(seg: number, off: number, size: number): number {
    if (!(this.segPerm[seg] & 1) || off < this.segMin[seg] || off + size - 1 > this.segMax[seg]) this.segFault(seg);
    const lin = (this.segBase[seg] + off) >>> 0;
    if (this.alignCheck && (lin & (size - 1))) this.raise(AC_, 0);
    if (this.memWatch !== null) this.memWatch(lin, size, false);
    return lin;
  }
  private checkWrite(seg: number, off: number, size: number): number {
    if (!(this.segPerm[seg] & 2) || off < this.segMin[seg] || off + size - 1 > this.segMax[seg]) this.segFault(seg);
    const lin = (this.segBase[seg] + off) >>> 0;
    if (this.alignCheck && (lin & (size - 1))) this.raise(AC_, 0);
    if (this.memWatch !== null) this.memWatch(lin, size, true);
    return lin;
  }

  /**
   * Debugger hook: called with the linear address, size and direction of every data
   * access an instruction makes through a segment (explicit operands, stack, strings,
   * x87 operands; read-modify-write operands report as writes). Null on the fast path.
   * It must not throw or touch guest state; the debugger records hits and stops after
   * the instruction.
   */
  memWatch: ((lin: number, size: number, write: boolean) => void) | null = null;

  read8(seg: number, off: number): number { return this.lread8(this.checkRead(seg, off, 1)); }
  read16(seg: number, off: number): number { return this.lread16(this.checkRead(seg, off, 2)); }
  read32(seg: number, off: number): number { return this.lread32(this.checkRead(seg, off, 4)); }
  write8(seg: number, off: number, v: number): void { this.lwrite8(this.checkWrite(seg, off, 1), v); }
  write16(seg: number, off: number, v: number): void { this.lwrite16(this.checkWrite(seg, off, 2), v); }
  write32(seg: number, off: number, v: number): void { this.lwrite32(this.checkWrite(seg, off, 4), v); }

  // ---- The compiled code's memory slow path (switch ramFast) ------------------------------
  // Compiled code writes the aligned fast path out inline (jit.ts fastCond): through a
  // segment with the full offset range, an aligned access cannot fault on the limit, #AC
  // or a page crossing; on a TLB hit (or with paging off) to plain RAM it is one
  // typed-array access, with exactly the checked path's effects (which a TLB hit makes
  // none: the entry already has the A and, for writes, D bits). Anything else — unaligned,
  // a miss, MMIO, a tracked page (decoded code, page tables: the rmap must see the write)
  // — calls the accessors below, which make EIP/icount exact and take the checked path.

  /**
   * A compiled memory access passes where its instruction is: `pos` (its index k in the
   * block, its byte offset there and its length, as k * 65536 + offset * 16 + length), the
   * block's first EIP and icount at the block's start (this pass). Only the slow path,
   * which can fault, touch a device or drop code, needs the exact EIP/icount, and jitSync
   * makes them so (the fast path never does any of that).
   */
  private jitSync(pos: number, e0: number, c0: number): void {
    const start = (e0 + ((pos >>> 4) & 0xfff)) >>> 0;
    this.startEip = start;
    this.eip = (start + (pos & 15)) >>> 0;
    this.icount = c0 + (pos >>> 16) + 1;
  }
  // Compiled code passes offsets and 32-bit values as int32 (jit.ts ea32): taken modulo 2^32 here.
  fr32(seg: number, off: number, pos: number, e0: number, c0: number): number { this.jitSync(pos, e0, c0); return this.read32(seg, off >>> 0); }
  fr16(seg: number, off: number, pos: number, e0: number, c0: number): number { this.jitSync(pos, e0, c0); return this.read16(seg, off >>> 0); }
  fr8(seg: number, off: number, pos: number, e0: number, c0: number): number { this.jitSync(pos, e0, c0); return this.read8(seg, off >>> 0); }
  fw32(seg: number, off: number, v: number, pos: number, e0: number, c0: number): void { this.jitSync(pos, e0, c0); this.write32(seg, off >>> 0, v >>> 0); }
  fw16(seg: number, off: number, v: number, pos: number, e0: number, c0: number): void { this.jitSync(pos, e0, c0); this.write16(seg, off >>> 0, v); }
  fw8(seg: number, off: number, v: number, pos: number, e0: number, c0: number): void { this.jitSync(pos, e0, c0); this.write8(seg, off >>> 0, v); }
  /** Read of a read-modify-write operand (readRmw): the write permission is what is checked. */
  frmw(seg: number, off: number, size: number, pos: number, e0: number, c0: number): number { this.jitSync(pos, e0, c0); return this.readRmw(seg, off >>> 0, size); }

  /**
   * The table compiled code looks linear pages up in: the TLB of the current address
   * space, or with paging off an identity table (frame = page, A20 applied, every
   * permission), so the inline fast path has one form. Read at a compiled function's entry
   * (paging, CR3 and A20 change only between blocks).
   */
  jitTlb(): Int32Array {
    if (this.paging) return this.tlbCur;
    if (this.identTlb === null || this.identTlbMask !== this.a20Mask) {
      const t = this.identTlb ??= this.mem.arenaTlbTable(4) ?? new Int32Array(1 << 20);
      const all = TLB_V | TLB_W | TLB_U | TLB_D | TLB_X;
      for (let pg = 0; pg < t.length; pg++) {
        const phys = (pg << 12) & this.a20Mask;
        t[pg] = phys | all | (this.mem.isRam(phys >>> 0) ? TLB_RAM : 0);
      }
      this.identTlbMask = this.a20Mask;
    }
    return this.identTlb;
  }
  private identTlb: Int32Array | null = null;
  private identTlbMask = 0;
  /**
   * The entry bits an inline read (write) needs at the current CPL (see jitTlb): the
   * permission, and TLB_RAM (no MMIO frame takes the inline path). translate() needs no
   * TLB_RAM: the interpreter's accessors go to MMIO themselves.
   */
  jitNeed(write: boolean): number {
    return (this.paging ? this.tlbNeed[(this.cpl === 3 ? ACC_USER : 0) | (write ? ACC_WRITE : 0)] : TLB_V) | TLB_RAM;
  }
  /**
   * Physical address of plain RAM at lin on a TLB hit with the permission (paging off:
   * always), or -1: for writes not MMIO and not tracked by the rmap (decoded code, page
   * tables), for reads not MMIO. The REP string fast path (ops-data) works in such runs.
   */
  repPhys(lin: number, write: boolean): number {
    let p: number;
    if (!this.paging) p = (lin & this.a20Mask) >>> 0;
    else {
      const e = this.tlbCur[lin >>> 12];
      const need = this.jitNeed(write);
      if ((e & need) !== need) return -1;
      this.statTlbHits++;
      p = ((e & 0xfffff000) | (lin & 0xfff)) >>> 0;
    }
    const k = this.mem.frameKind[p >>> 12];
    return (write ? k === PAGE_RAM : (k & PAGE_MMIO) === 0) ? p : -1;
  }

  readSz(seg: number, off: number, size: number): number {
    return size === 4 ? this.read32(seg, off) : size === 2 ? this.read16(seg, off) : this.read8(seg, off);
  }
  writeSz(seg: number, off: number, size: number, v: number): void {
    if (size === 4) this.write32(seg, off, v); else if (size === 2) this.write16(seg, off, v); else this.write8(seg, off, v);
  }
  /** Read for a read-modify-write operand: checks write permission first, as the hardware does. */
  readRmw(seg: number, off: number, size: number): number {
    const lin = this.checkWrite(seg, off, size);
    if (this.paging) this.probeLinearWrite(lin, size);
    return size === 4 ? this.lread32(lin) : size === 2 ? this.lread16(lin) : this.lread8(lin);
  }
  /** Checks a write of `len` bytes at seg:off (segment and paging) without writing. */
  probeWrite(seg: number, off: number, len: number): void {
    const lin = this.checkWrite(seg, off, len);
    this.probeLinearWrite(lin, len);
  }
  probeRead(seg: number, off: number, len: number): void {
    const lin = this.checkRead(seg, off, len);
    if (this.paging) {
      this.translate(lin, this.userAcc());
      for (let p = ((lin | 0xfff) + 1) >>> 0, end = lin + len; p < end && p !== 0; p = (p + 0x1000) >>> 0) this.translate(p, this.userAcc());
    }
  }

  // ====================================================================
  // Operands of a decoded instruction
  // ====================================================================

  /** Effective address offset (masked to the address size). */
  ea(i: Insn): number {
    const r = this.r32;
    const off = r[i.base] + (r[i.index] << i.scale) + i.disp;
    return i.asize === 32 ? off >>> 0 : off & 0xffff;
  }

  getE(i: Insn): number {
    return i.mod === 3 ? this.getReg(i.rm, i.size) : this.readSz(i.seg, this.ea(i), i.size);
  }
  setE(i: Insn, v: number): void {
    if (i.mod === 3) this.setReg(i.rm, i.size, v); else this.writeSz(i.seg, this.ea(i), i.size, v);
  }
  getG(i: Insn): number { return this.getReg(i.reg, i.size); }
  setG(i: Insn, v: number): void { this.setReg(i.reg, i.size, v); }

  // ====================================================================
  // Stack
  // ====================================================================

  /** SP-relative offset `delta` from the current stack pointer, wrapped to the stack size. */
  spOff(delta: number): number {
    return this.stack32 ? (this.r32[ESP] + delta) >>> 0 : (this.r32[ESP] + delta) & 0xffff;
  }
  setSp(v: number): void {
    if (this.stack32) this.r32[ESP] = v; else this.r16[ESP << 1] = v;
  }
  push16(v: number): void {
    const off = this.spOff(-2);
    this.write16(SS, off, v);
    this.setSp(off);
  }
  push32(v: number): void {
    const off = this.spOff(-4);
    this.write32(SS, off, v);
    this.setSp(off);
  }
  push(size: number, v: number): void { if (size === 4) this.push32(v); else this.push16(v); }
  pop16(): number {
    const off = this.spOff(0);
    const v = this.read16(SS, off);
    this.setSp(this.spOff(2));
    return v;
  }
  pop32(): number {
    const off = this.spOff(0);
    const v = this.read32(SS, off);
    this.setSp(this.spOff(4));
    return v;
  }
  pop(size: number): number { return size === 4 ? this.pop32() : this.pop16(); }

  // ====================================================================
  // Instruction fetch and the decoded-instruction cache
  // ====================================================================

  /** Fetches a code byte at CS:off (CS limit and paging checked). Used by the decoder. */
  fetchCode8(off: number): number {
    const o = this.code32 ? off >>> 0 : off & 0xffff;
    if (o > this.segLimit[CS]) this.raise(GP, 0);
    return this.mem.read8(this.translate((this.segBase[CS] + o) >>> 0, this.userAcc() | ACC_FETCH));
  }

  /** Drops the decoded instructions of one frame (its rmap entry goes stale and is reclaimed later). */
  invalidateCodeFrame(frame: number): void {
    this.resetFetchPage();
    if (this.codeCache[frame]) {
      this.codeCache[frame] = undefined;
      this.statCodeInvalidations++;
    }
  }

  flushCodeCache(): void {
    for (let f = 0; f < this.codeCache.length; f++) if (this.codeCache[f]) this.invalidateCodeFrame(f);
  }

  /** Decodes (or finds in the cache) the instruction at CS:EIP. */
  /**
   * A small direct-mapped cache of recently fetched code pages: tag = linear page number
   * and CPL, value = the decoded-instruction array of the page's frame. Entries are valid
   * until anything that could change a translation or decoded code is invalidated
   * (resetFetchPage clears them all).
   */
  private readonly fetchTags = new Int32Array(FETCH_WAYS).fill(-1);
  private readonly fetchPages: (Insn[] | null)[] = new Array<Insn[] | null>(FETCH_WAYS).fill(null);
  private fetchValid = false;
  /** Forgets the cached fetch pages (TLB flush, CR3 load, INVLPG, rmap drops, code invalidation, mode change). */
  resetFetchPage(): void {
    this.blockAbort = true;
    this.codeEpoch++;
    if (this.fetchValid) { this.fetchTags.fill(-1); this.fetchValid = false; }
  }

  /** The cached instruction of mode `mode` at linear address `lin` if its page is in the fetch-page cache. */
  private fetchCached(lin: number, mode: number): Insn | undefined {
    const way = (lin >>> 12) & (FETCH_WAYS - 1);
    if (this.fetchTags[way] !== (((lin >>> 12) << 2) | this.cpl)) return undefined;
    const c = this.fetchPages[way]![lin & 0xfff];
    return c !== undefined && c.mode === mode ? c : undefined;
  }

  private fetchInsn(): Insn {
    const lin = (this.segBase[CS] + this.eip) >>> 0;
    const mode = this.code32 ? 1 : 0;
    const tag = ((lin >>> 12) << 2) | this.cpl;
    const way = (lin >>> 12) & (FETCH_WAYS - 1);
    // As fetchCached, written out: this is the hottest lookup of the block interpreter.
    if (this.fetchTags[way] === tag) {
      const c = this.fetchPages[way]![lin & 0xfff];
      if (c !== undefined && c.mode === mode) {
        this.statCacheHits++;
        return c;
      }
    }
    if (this.decodeCacheEnabled) {
      const phys = this.translate(lin, this.userAcc() | ACC_FETCH);
      const frame = phys >>> 12;
      if (phys < this.mem.ramSize) {
        const page = this.codeCache[frame];
        if (page !== undefined) {
          // Only when a dependency will reset it: paging off, or the TLB (and so the rmap) holds this translation.
          if (!this.paging || this.tlbCur[lin >>> 12] !== 0) {
            this.fetchTags[way] = tag;
            this.fetchPages[way] = page;
            this.fetchValid = true;
          }
          const c = page[phys & 0xfff];
          if (c !== undefined && c.mode === mode) {
            this.statCacheHits++;
            return c;
          }
        }
        const i = new Insn();
        decode(this, i, this.eip);
        this.statDecodes++;
        // Cache only instructions that lie wholly inside one page of RAM.
        if ((lin & 0xfff) + i.len <= 0x1000 && this.mem.isRam(phys)) {
          let p = this.codeCache[frame];
          if (p === undefined) {
            p = new Array<Insn>(4096);
            this.codeCache[frame] = p;
            const g = this.codeGenNext = (this.codeGenNext + 1) & 0x3fffffff || 1;
            this.codeGen[frame] = g;
            // The decoded page depends on every byte of its frame.
            this.rmap.add(frame, 0, 4096, CODE_KEY | frame, g);
          }
          p[phys & 0xfff] = i;
          i.cached = true;
        }
        return i;
      }
    }
    const i = this.scratchInsn;
    decode(this, i, this.eip);
    this.statDecodes++;
    return i;
  }

  // ====================================================================
  // The run loop
  // ====================================================================

  requestStop(): void { this.stopReason = Exit.Stopped; this.blockAbort = true; }

  /** Executes up to `budget` instructions. */
  run(budget: number): Exit {
    const end = this.icount + budget;
    this.stopReason = -1;
    // Blocks only while nobody hooks the instruction boundary (the debugger shadows step()).
    const blocks = this.blocksEnabled && this.step === Cpu.prototype.step;
    while (this.icount < end) {
      if (this.stopReason !== -1) {
        const r = this.stopReason;
        this.stopReason = -1;
        return r;
      }
      // External interrupts and NMI at the instruction boundary (SDM Vol.3A §6.9 priorities).
      if (this.nmiPending && !this.nmiBlocked && this.icount >= this.inhibitUntil) {
        this.nmiPending = false;
        this.nmiBlocked = true;
        this.halted = false;
        if (!this.deliver(2, INT_EXT, -1)) return Exit.Shutdown;
      } else if ((this.flags & IF) && this.intr !== null && this.icount >= this.inhibitUntil && this.intr.pending()) {
        this.halted = false;
        const vec = this.intr.ack();
        if (!this.deliver(vec & 0xff, INT_EXT, -1)) return Exit.Shutdown;
      }
      if (this.halted) return Exit.Halt;
      try {
        // Blocks need nothing to happen at the boundaries inside them: no single-step or
        // resume flag, no execution breakpoints or watchpoints, no interrupt shadow.
        if (blocks && this.code32 && (this.flags & (TF | RF)) === 0 && !this.dr7Exec && this.memWatch === null &&
          this.pendingDbTrap === 0 && this.icount >= this.inhibitUntil) this.runBlock(end);
        else this.step();
      } catch (e) {
        if (e === FAULT) {
          this.eip = this.startEip;
          if (!this.deliverFault()) return Exit.Shutdown;
        } else if (e instanceof GuestError) {
          this.eip = this.startEip;
          this.guestError = e.message;
          return Exit.GuestError;
        } else {
          throw e;
        }
      }
    }
    return Exit.Budget;
  }

  /**
   * Executes the block at CS:EIP (32-bit code, checked by the caller), or one instruction
   * when no block fits: the instruction crosses a page or is not in RAM, the block would
   * pass the CS limit, or it would overrun the budget (so instruction counts stay exact).
   */
  private runBlock(end: number): void {
    this.startEip = this.eip;
    const p = this.prevBlock, eip = this.eip;
    let b: Block | null = null;
    if (p !== null && p.linkEpoch === this.codeEpoch && this.linksEnabled) b = p.link0Eip === eip ? p.link0 : p.link1Eip === eip ? p.link1 : null;
    if (b === null) {
      const first = this.fetchInsn();
      b = first.block;
      if (b === null) {
        if (!first.cached) { this.prevBlock = null; this.execOne(first); return; }
        b = this.buildBlock(first);
      }
      // Link only when the translation is tracked (paging off, or held by the TLB and so by the rmap).
      if (p !== null && this.linksEnabled && (!this.paging || this.tlbCur[((this.segBase[CS] + eip) >>> 0) >>> 12] !== 0)) p.link(eip, b, this.codeEpoch);
    }
    this.prevBlock = b;
    if (this.eip + b.len - 1 > this.segLimit[CS]) { this.prevBlock = null; this.execOne(b.insns[0]); return; }
    // The budget ends inside the block: interpret just the instructions that fit (no
    // per-instruction trips through this loop, and no new block starting at the cut).
    const room = end - this.icount;
    if (room < b.insns.length) { this.prevBlock = null; this.blockAbort = false; this.interpretBlock(b, room); return; }
    this.blockAbort = false;
    this.statBlockRuns++;
    if (b.fn !== null) {
      // Chaining: while compiled code follows compiled code through the links, run the next
      // function straight away. Nothing the run loop checks between blocks can have
      // changed when a compiled function returns true: it left through a jump, a call or
      // a return (or a straight instruction), which does no I/O and leaves IF, TF/RF, the
      // interrupt shadow, the halted state and the mode alone; a stop request, an MMIO
      // access or dropped code or translations show as blockAbort/mmioHits.
      const mem = this.mem, mh = mem.mmioHits;
      for (let fn: BlockFn = b.fn; ;) {
        if (!fn(this, end) || !this.chainEnabled || this.blockAbort || mem.mmioHits !== mh) return;
        const e = this.eip;
        let nb: Block | null = b.linkEpoch !== this.codeEpoch ? null : b.link0Eip === e ? b.link0 : b.link1Eip === e ? b.link1 : null;
        if (nb === null) {
          // Not linked (a region has many exits, its entry block two links): the fetch
          // cache knows the block while the translation is tracked, and a link is made.
          const c = this.fetchCached((this.segBase[CS] + e) >>> 0, 1);
          if (c === undefined || c.block === null) return;
          nb = c.block;
          b.link(e, nb, this.codeEpoch);
        }
        if (nb.fn === null || this.icount + nb.insns.length > end || e + nb.len - 1 > this.segLimit[CS]) return;
        this.prevBlock = b = nb;
        fn = nb.fn;
        this.startEip = e;
        this.statBlockRuns++;
      }
    }
    if (this.compileEnabled && ++b.hits >= this.compileThreshold) {
      const opts = { loops: this.loopsEnabled, ramFast: this.ramFastEnabled };
      const all = this.buildRegion(b);
      // The JavaScript form (what runs when the WebAssembly one cannot) is compiled when
      // first needed (most regions never need it), with every block of the region: the
      // WebAssembly form hands over at any of them.
      let js: BlockFn | null = null;
      const wasm = this.wasmEnabled ? compileRegionWasm(all, this.mem, (cpu, e) => (js ??= compileRegion(all, { ...opts, uncapped: true }).fn)(cpu, e)) : null;
      if (wasm !== null) this.statWasm++;
      const { fn, blocks } = wasm !== null ? { fn: wasm, blocks: all } : compileRegion(all, opts);
      for (const rb of blocks) if (rb.fn === null) { rb.fn = fn; this.statCompiledBlocks++; }
      this.statCompiled++;
      fn(this, end);
      return;
    }
    this.interpretBlock(b, b.insns.length);
  }

  /**
   * The blocks compiled together with the hot block b (at CS:EIP): b, then the blocks its
   * static branches and fall-throughs reach on the same code page, breadth first, up to
   * REGION_BLOCKS blocks or REGION_INSNS instructions — only blocks that have run (a
   * branch to code that has not leaves the region), and none whose first instruction
   * could cross the page end or the CS limit.
   */
  private buildRegion(b: Block): Block[] {
    if (!this.regionsEnabled) return [b];
    const lin0 = (this.segBase[CS] + this.eip) >>> 0;
    if ((lin0 & 0xfff) !== b.off) return [b];
    // A TLB hit (or paging off), so the translation below cannot walk or fault.
    if (this.paging && this.tlbCur[lin0 >>> 12] === 0) return [b];
    const frame = this.translate(lin0, this.userAcc() | ACC_FETCH) >>> 12;
    const page = this.codeCache[frame];
    if (page === undefined || page[b.off] !== b.insns[0]) return [b];
    const blocks = [b], seen = new Set<number>([b.off]);
    let total = b.insns.length;
    for (let q = 0; q < blocks.length; q++) {
      for (const t of regionSuccessors(blocks[q])) {
        if (blocks.length >= REGION_BLOCKS || total >= REGION_INSNS) return blocks;
        if (t < 0 || t > 0x1000 - 15 || seen.has(t)) continue;
        seen.add(t);
        const eip = (this.eip + t - b.off) >>> 0;
        if (eip + 14 > this.segLimit[CS]) continue;
        // Only code that has run (its block exists): cold paths stay out, so the hot ones fit.
        const i = page[t];
        if (i === undefined || i.mode !== 1 || i.block === null) continue;
        const nb = i.block;
        blocks.push(nb);
        total += nb.insns.length;
      }
    }
    return blocks;
  }

  /** Runs the first `count` instructions of a block one by one (the block executor's interpreting form). */
  private interpretBlock(b: Block, count: number): void {
    const insns = b.insns, mem = this.mem, mh = mem.mmioHits;
    for (let k = 0; k < count; k++) {
      const i = insns[k];
      const e = this.eip, nx = (e + i.len) >>> 0;
      this.startEip = e;
      this.eip = nx;
      this.icount++;
      i.exec(this, i);
      // A taken side exit (a Jcc inside the block) leaves EIP elsewhere.
      if (this.blockAbort || mem.mmioHits !== mh || this.eip !== nx) return;
    }
  }

  /** One already-fetched 32-bit instruction at CS:EIP, with step()'s CS-limit check (TF and RF are clear). */
  private execOne(i: Insn): void {
    const next = this.eip + i.len;
    if (next - 1 > this.segLimit[CS]) this.raise(GP, 0);
    this.eip = next >>> 0;
    this.icount++;
    i.exec(this, i);
  }

  /**
   * Groups the cached instruction `first` and the straight-line instructions after it on
   * the same page into a block (see block.ts). Later instructions are decoded only where
   * they cannot fault: at least 15 bytes left on the page and inside the CS limit.
   */
  private buildBlock(first: Insn): Block {
    const eip0 = this.eip, lin0 = (this.segBase[CS] + eip0) >>> 0;
    const insns = [first];
    if (continuesBlock(first, this.sideExitsEnabled)) {
      const frame = this.translate(lin0, this.userAcc() | ACC_FETCH) >>> 12;
      const page = this.codeCache[frame];
      let eip = (eip0 + first.len) >>> 0;
      while (page !== undefined && insns.length < BLOCK_MAX) {
        const off = (lin0 & 0xfff) + ((eip - eip0) >>> 0);
        if (off + 15 > 0x1000 || eip + 14 > this.segLimit[CS]) break;
        let i = page[off];
        if (i === undefined || i.mode !== 1) {
          i = new Insn();
          try { decode(this, i, eip); } catch (e) { if (e === FAULT) break; throw e; }
          // The decode's own accesses dropped the page: the block is the first instruction alone.
          if (this.codeCache[frame] !== page) { insns.length = 1; break; }
          this.statDecodes++;
          page[off] = i;
          i.cached = true;
        }
        insns.push(i);
        eip = (eip + i.len) >>> 0;
        if (!continuesBlock(i, this.sideExitsEnabled)) break;
      }
    }
    return this.newBlock(insns, lin0 & 0xfff);
  }

  private newBlock(insns: Insn[], off: number): Block {
    const b = new Block(insns, off);
    insns[0].block = b;
    this.statBlocks++;
    return b;
  }

  /** Executes exactly one instruction (no interrupt check). Faults propagate as FAULT. */
  step(): void {
    this.startEip = this.eip;
    const tfBefore = this.flags & TF;
    if (this.dr7Exec) this.checkExecBreakpoints();
    const i = this.fetchInsn();
    const next = this.eip + i.len;
    if (this.code32) {
      if (next - 1 > this.segLimit[CS]) this.raise(GP, 0);
      this.eip = next >>> 0;
    } else {
      if (((this.startEip + i.len - 1) & 0xffff) > this.segLimit[CS] && this.segLimit[CS] < 0xffff) this.raise(GP, 0);
      this.eip = next & 0xffff;
    }
    this.icount++;
    this.flags &= ~RF;
    i.exec(this, i);
    // Single-step trap after the instruction (SDM Vol.3A §17.3.1.4). MOV SS/POP SS suppress it for one instruction.
    if ((tfBefore || this.pendingDbTrap) && this.inhibitUntil !== this.icount + 1) {
      const bits = this.pendingDbTrap | (tfBefore ? 0x4000 : 0);
      this.pendingDbTrap = 0;
      if (bits) {
        this.dr[6] = (this.dr[6] & ~0x400f) | bits;
        this.raiseTrap(DB);
      }
    }
  }

  /** Delivers a trap-class exception whose return address is the next instruction. */
  private raiseTrap(vec: number): void {
    this.startEip = this.eip;
    this.raise(vec);
  }

  /** Delivers the pending fault, escalating to #DF and to shutdown (SDM Vol.3A §6.15, Table 6-5). */
  private deliverFault(): boolean {
    let vec = this.excVector, err = this.excError;
    this.lastException = vec;
    for (;;) {
      if (this.deliver(vec, INT_EXC, err)) return true;
      if (this.shutdownReason) return false;
      const second = this.excVector;
      if (vec === DF_) return this.tripleFault('fault while delivering #DF');
      if (doubleFaultCombo(vec, second)) { vec = DF_; err = 0; }
      else { vec = second; err = this.excError; }
    }
  }

  /** Delivers one interrupt/exception; false when delivery itself faulted (excVector set) or shutdown. */
  private deliver(vec: number, kind: number, err: number): boolean {
    try {
      this.halted = false;
      deliverInterrupt(this, vec, kind, err, this.eip);
      return true;
    } catch (e) {
      if (e === FAULT) return false;
      if (e instanceof GuestError) {
        this.guestError = e.message;
        this.shutdownReason = e.message;
        return false;
      }
      throw e;
    }
  }

  tripleFault(why: string): false {
    this.shutdownReason = `triple fault (${why})`;
    this.onShutdown?.(this.shutdownReason);
    return false;
  }

  /** Executes INT n / INT3 / INTO / INT1 from an instruction (software interrupt semantics). */
  softwareInterrupt(vec: number, kind: number): void {
    deliverInterrupt(this, vec, kind, -1, this.eip);
  }

  // ====================================================================
  // Debug registers (execution breakpoints)
  // ====================================================================

  dr7Exec = false;

  updateDebugRegs(): void {
    const d7 = this.dr[7];
    let exec = false;
    for (let n = 0; n < 4; n++) {
      const en = (d7 >>> (n * 2)) & 3;
      const rw = (d7 >>> (16 + n * 4)) & 3;
      if (en && rw === 0) exec = true;
    }
    this.dr7Exec = exec;
  }

  private checkExecBreakpoints(): void {
    if (this.flags & RF) return;
    const lin = (this.segBase[CS] + this.eip) >>> 0;
    const d7 = this.dr[7];
    let hit = 0;
    for (let n = 0; n < 4; n++) {
      const en = (d7 >>> (n * 2)) & 3;
      const rw = (d7 >>> (16 + n * 4)) & 3;
      if (en && rw === 0 && this.dr[n] === lin) hit |= 1 << n;
    }
    if (hit) {
      this.dr[6] = (this.dr[6] & ~0xf) | hit;
      this.raise(DB);
    }
  }

  // ====================================================================
  // Misc helpers used by instruction handlers
  // ====================================================================

  /** IOPL-sensitive instruction check (CLI/STI/IN/OUT): true when CPL <= IOPL. */
  iopl(): number { return (this.flags & IOPL) >>> 12; }

  /** Checks I/O permission for `size` bytes at `port` (SDM Vol.1 §18.5.2): IOPL, then the TSS I/O bitmap. */
  checkIo(port: number, size: number): void {
    if (!(this.cr0 & CR0_PE)) return;
    if (!(this.flags & VM) && this.cpl <= this.iopl()) return;
    // Only a 32-bit TSS has an I/O bitmap.
    const type = this.tr.ar & 0x0f;
    if (type !== 0x09 && type !== 0x0b) this.raise(GP, 0);
    if (this.tr.limit < 0x67) this.raise(GP, 0);
    const mapBase = this.sread16((this.tr.base + 0x66) >>> 0);
    const byteOff = mapBase + (port >>> 3);
    if (byteOff + 1 > this.tr.limit) this.raise(GP, 0);
    const bits = this.sread16((this.tr.base + byteOff) >>> 0);
    const mask = ((1 << size) - 1) << (port & 7);
    if (bits & mask) this.raise(GP, 0);
  }

  /** EFLAGS bits writable by POPF/IRET at the current privilege (SDM Vol.2B POPF). */
  eflagsWriteMask(size: number): number {
    let m = CF | PF | AF | ZF | SF | TF | DF | OF | NT | AC | ID | 0x2;
    if (!(this.cr0 & CR0_PE)) m |= IOPL | IF; // real mode: the 386 can set IOPL and NT
    else {
      if (this.cpl === 0) m |= IOPL;
      if (this.cpl <= this.iopl()) m |= IF;
    }
    if (size === 2) m &= 0xffff;
    return m;
  }

  /** Describes the state briefly (for errors and dumps). */
  describe(): string {
    const h = (v: number, n = 8) => (v >>> 0).toString(16).padStart(n, '0');
    const r = this.r32;
    return `EAX=${h(r[0])} EBX=${h(r[3])} ECX=${h(r[1])} EDX=${h(r[2])} ESI=${h(r[6])} EDI=${h(r[7])} EBP=${h(r[5])} ESP=${h(r[4])}\n` +
      `EIP=${h(this.eip)} EFL=${h(this.getEflags())} CPL=${this.cpl} CS=${h(this.segSel[CS], 4)} SS=${h(this.segSel[SS], 4)} DS=${h(this.segSel[DS], 4)} ES=${h(this.segSel[ES], 4)} FS=${h(this.segSel[FS], 4)} GS=${h(this.segSel[GS], 4)}\n` +
      `CR0=${h(this.cr0)} CR2=${h(this.cr2)} CR3=${h(this.cr3)} CR4=${h(this.cr4)} mode=${this.protectedMode ? (this.code32 ? 'pm32' : 'pm16') : (this.flags & VM ? 'v86' : 'real')}`;
  }

  // ---- TLB maintenance -------------------------------------------------

  /** Paging-mode changes (CR0.PG/WP, CR4.PSE/PAE/PGE, EFER.NXE, A20): every cached translation goes. */
  flushTlb(_global: boolean): void {
    this.resetFetchPage();
    this.tlb.flushAll(this.cr3);
    this.tlbCur = this.tlb.cur;
    this.updateTlbNeed();
  }
  /** MOV CR3 and task switches: switch address space (non-global entries of the old one are not used). */
  loadCr3(v: number): void {
    this.resetFetchPage();
    this.cr3 = v >>> 0;
    this.tlb.setCr3(this.cr3, (this.cr4 & CR4_PGE) !== 0);
    this.tlbCur = this.tlb.cur;
  }
  /** INVLPG: drops the translation of one linear page. */
  invlpg(lin: number): void { this.resetFetchPage(); this.tlb.invalidatePage(lin >>> 12); }

  /** MMU counters for --stats and the API. */
  mmuStats(): { tlb: TlbStats; rmap: RmapStats; code: { decodes: number; cacheHits: number; invalidations: number; blocks: number; compiled: number; compiledBlocks: number; blockRuns: number; wasm: { regions: number; runs: number; chains: number; instructions: number; stops: number; fallbacks: number } } } {
    return {
      tlb: { ...this.tlb.stats, hits: this.statTlbHits }, rmap: { ...this.rmap.stats },
      code: { decodes: this.statDecodes, cacheHits: this.statCacheHits, invalidations: this.statCodeInvalidations, blocks: this.statBlocks, compiled: this.statCompiled, compiledBlocks: this.statCompiledBlocks, blockRuns: this.statBlockRuns,
        wasm: { regions: this.statWasm, runs: this.statWasmRuns, chains: this.statWasmChains, instructions: this.statWasmInsns, stops: this.statWasmStops, fallbacks: this.statWasmFallbacks } },
    };
  }

  // ---- time stamp counter: derived from executed instructions, so runs are deterministic ----
  tscOffset = 0n;
  /**
   * The time-stamp counter's source, in cycles. Default: one cycle per executed
   * instruction. A Machine replaces it with its clock (1 GHz nominal), so that RDTSC,
   * the PIT, the RTC and the APIC timer all agree — on the host clock, or on the
   * virtual clock of a deterministic run.
   */
  tscSource: () => number = () => this.icount;
  readTsc(): bigint { return BigInt(Math.floor(this.tscSource())) + this.tscOffset; }
  writeTsc(v: bigint): void { this.tscOffset = v - BigInt(Math.floor(this.tscSource())); }

  // ---- FpuHost: what the x87 unit sees of the core ------------------------

  /** FCOMI/FUCOMI: ZF, PF, CF from the comparison; OF, SF, AF cleared (SDM Vol.2A FCOMI). */
  setEflagsZPC(zf: boolean, pf: boolean, cf: boolean): void {
    this.materializeFlags();
    this.flags = (this.flags & ~(ZF | PF | CF | OF | SF | AF)) | (zf ? ZF : 0) | (pf ? PF : 0) | (cf ? CF : 0);
  }
  setAX(v: number): void { this.r16[0] = v; }
  /** FERR# (IRQ13 on a PC when CR0.NE=0); the platform wires `onFerr`. */
  onFerr: ((asserted: boolean) => void) | null = null;
  setFerr(asserted: boolean): void { this.onFerr?.(asserted); }
  get realMode(): boolean { return !(this.cr0 & CR0_PE) || (this.flags & VM) !== 0; }

  /** What CPUID reports: derived from what is attached. */
  apicId = 0;
  hasApic = false;
  cpuidPolicy(): CpuidPolicy {
    return { fpu: this.fpu !== null, fxsr: this.fpu !== null && this.fpu.hasFxsr === true, apic: this.hasApic, apicId: this.apicId };
  }

  /** Called after CR0/CR3/CR4 writes that change translations. */
  pagingChanged(): void {
    this.updateMode();
    this.updateTlbNeed();
    for (let s = 0; s < 6; s++) this.recomputeSegWindow(s);
  }
}

// Exception classes for double-fault detection (SDM Vol.3A Table 6-4, 6-5).
function isContributory(v: number): boolean { return v === 0 || (v >= 10 && v <= 13); }
function doubleFaultCombo(first: number, second: number): boolean {
  if (isContributory(first) && isContributory(second)) return true;
  if (first === PF_ && (isContributory(second) || second === PF_)) return true;
  return false;
}

