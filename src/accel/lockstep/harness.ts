// The lockstep harness: the same random instruction stream, from the same register and
// memory state, run one instruction at a time in KVM (KVM_SET_GUEST_DEBUG single-step)
// and in the interpreter, with the state compared after every instruction: GPRs, EIP,
// EFLAGS (minus the flags the table documents as undefined for that instruction),
// segment registers, every byte of the data window (so every memory write), and the
// exception raised, if any.
//
// KVM single-step as observed on this project's PVM host (see README "KVM"), and how
// each quirk is absorbed here so that it never hides a real difference:
//  - REP string instructions are one step for all iterations (RIP stays, RF set) and a
//    second step moves past: both sides run until EIP leaves the instruction, and the
//    result is compared once, at instruction granularity.
//  - A fault is seen either as KVM_EXIT_HLT (or an internal error) with the exception
//    in KVM_GET_VCPU_EVENTS and RIP at the faulting instruction (compared with the
//    interpreter's state at the fault, before delivery), or as a delivered fault with the
//    handler's first instruction already executed (the interpreter then delivers the
//    same exception and runs the same handler NOPs before comparing). A stream ends at
//    its first fault.
//  - In real mode the TF that single-step sets leaks into the FLAGS image pushed on
//    delivery: that one bit is cleared in KVM's copy before comparing memory, and only
//    when the interpreter's image has it clear.
//  - RF and TF are never compared (KVM owns them while stepping).
import { Cpu, FAULT } from '../../cpu/cpu';
import { CS, ECX, ESP, SS, ZF } from '../../cpu/consts';
import { deliverInterrupt, INT_EXC } from '../../cpu/interrupts';
import type { Insn } from '../../cpu/insn';
import { Exit, type PortIo } from '../../cpu/interfaces';
import { flagMask } from '../../cpu/table';
import { PhysMemory } from '../../mmu/physmem';
import { disassembleOne } from '../../debug/disasm';
import { ExitKind, exitMessage } from '../exit';
import { policyEntries } from '../kvm/cpuid';
import { loadShim } from '../kvm/shim';
import { regsFromCpu, sregsFromCpu } from '../kvm/state';
import { APIC_BASE_DEFAULT, KvmError, KvmVm, allocGuestRam } from '../kvm/vm';
import { SREGS } from '../kvm/abi';
import type { LockstepMode } from './exclusions';
import { exclusionReason } from './exclusions';
import { Rng, allowedDefs, decodeHere, fillCode, isString, randomReg, streamSeed } from './generator';
import { CODE_END, INTERESTING_SELECTORS, RAM_BYTES, STUB_OFF, WINDOW, layoutFor, type Layout } from './layout';

export interface LockstepOptions {
  mode: LockstepMode;
  /** Instructions to compare (the run stops at the first stream boundary at or after it). */
  count: number;
  seed: number;
  /** Run only this stream (a reproducer). */
  onlyStream?: number;
  /** Longest stream in instructions. */
  maxStream?: number;
  /** Stop after this many mismatches (detailed reports are kept for them). */
  maxMismatches?: number;
  /** Compare the code window after every step as well (slower). */
  paranoid?: boolean;
  /** Progress callback every ~100k instructions. */
  progress?: (r: LockstepReport) => void;
}

export interface Mismatch {
  stream: number;
  step: number;
  mnemonic: string;
  bytes: string;
  disasm: string;
  diffs: string[];
  before: string;
  interp: string;
  kvm: string;
  repro: string;
}

export interface LockstepReport {
  mode: LockstepMode;
  seed: number;
  /** Instructions executed and compared on both sides. */
  compared: number;
  streams: number;
  /** Faults compared (both sides raised the same exception), by vector. */
  faults: Record<string, number>;
  /** Instructions KVM could not execute (internal error without an exception), by mnemonic: a host limitation, not a mismatch. */
  kvmCannot: Record<string, number>;
  /** Why streams ended. */
  ends: Record<string, number>;
  mismatchCount: number;
  /** Differences where KVM (its instruction emulator on PVM) departs from the SDM and the interpreter follows it, by reason. */
  explained: Record<string, number>;
  mismatchesByMnemonic: Record<string, number>;
  mismatches: Mismatch[];
  ms: number;
}

const NO_IO: PortIo = { ioRead: () => 0xffffffff, ioWrite: () => {} };
/** kvm_regs slots of EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (Cpu order). */
const KREG = [0, 2, 3, 1, 6, 7, 4, 5];
const RIP = 128, RFLAGS = 136;
const KSEG: number[] = [SREGS.ES, SREGS.CS, SREGS.SS, SREGS.DS, SREGS.FS, SREGS.GS];
const SEG = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const REGN = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
/** EFLAGS bits the two sides must agree on, before per-instruction undefined flags. TF and RF belong to KVM's single-step. */
const FLAGS_COMPARED = 0x3f7fd5 & ~0x100 & ~0x10000;
const CODE_REGEN = 256;
/** Opcodes that load segment registers or transfer control far (POP/MOV Sreg, LxS, far JMP/CALL/RET, INT, IRET). */
const SEG_CHANGERS = new Set([0x07, 0x17, 0x1f, 0x8e, 0xc4, 0xc5, 0x1b2, 0x1b4, 0x1b5, 0x1a1, 0x1a9, 0x9a, 0xea, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0x62]);
/** undefinedDestination(): the memory operand is undefined. */
const UNDEF_MEMORY = 8;
const hex = (v: number, w = 8): string => (v >>> 0).toString(16).padStart(w, '0');

interface KStep { kind: 'ok' | 'fault' | 'cannot' | 'odd'; nr: number; err: number; msg: string }

export class LockstepUnavailable extends Error {}

export class Lockstep {
  readonly layout: Layout;
  private readonly vm: KvmVm;
  private readonly kram: Uint8Array;
  private readonly kbuf: Buffer;
  private readonly mem: PhysMemory;
  private readonly ibuf: Buffer;
  private readonly cpu: Cpu;
  private readonly defs = allowedDefs('real');
  private code = new Uint8Array(WINDOW);
  private starts: number[] = [];
  private codeGen = -1;
  private readonly data = new Uint8Array(WINDOW);
  private readonly stackData = new Uint8Array(WINDOW);
  /** The windows every step compares (data, and the stack when it has its own). */
  private readonly compared: number[];
  private readonly ks: KStep = { kind: 'ok', nr: 0, err: -1, msg: '' };
  /** The stream's initial kvm_sregs (segments unchanged until a segment-changing instruction). */
  private readonly sregs0 = new DataView(new ArrayBuffer(312));
  private curStream = 0;
  paranoid = false;
  /** GPRs, EIP, EFLAGS before the step (for the mismatch report). */
  private readonly pre = new Int32Array(10);
  /** KVM's sregs may differ from a stream's initial ones (SET_SREGS is slow on PVM: skip it when they match). */
  private sregsDirty = true;
  /** A pending exception was left in KVM's vcpu events. */
  private eventsDirty = true;
  /** CL before the step (SHLD/SHRD's count decides whether their result is defined). */
  private preCount = 0;

  constructor(readonly mode: LockstepMode) {
    const shim = loadShim();
    if (typeof shim === 'string') throw new LockstepUnavailable(shim);
    this.layout = layoutFor(mode);
    this.defs = allowedDefs(mode);
    this.compared = this.layout.stackBase === this.layout.dataBase ? [this.layout.dataBase] : [this.layout.dataBase, this.layout.stackBase];
    try {
      this.vm = new KvmVm(shim, { kernelIrqchip: false });
      this.vm.setupPlatform();
      const ram = allocGuestRam(shim, RAM_BYTES);
      this.kram = new Uint8Array(ram);
      this.kbuf = Buffer.from(ram);
      this.vm.mapMemory(0, 0, ram);
      this.vm.createVcpu();
    } catch (e) {
      throw new LockstepUnavailable(e instanceof KvmError ? e.message : String(e));
    }
    this.mem = new PhysMemory(RAM_BYTES);
    this.ibuf = Buffer.from(this.mem.ram.buffer, this.mem.ram.byteOffset, this.mem.ram.length);
    this.cpu = new Cpu(this.mem, NO_IO);
    this.cpu.reset();
    // One CPUID on both sides: the interpreter's policy (no x87 unit attached here).
    this.vm.setCpuid(policyEntries({ fpu: false, fxsr: false, apic: false, apicId: 0 }, this.vm.supportedCpuid()));
    this.vm.setSingleStep(true);
  }

  close(): void { this.vm.close(); }

  run(o: LockstepOptions): LockstepReport {
    const t0 = performance.now();
    const r: LockstepReport = { mode: this.mode, seed: o.seed, compared: 0, streams: 0, faults: {}, kvmCannot: {}, ends: {}, explained: {}, mismatchCount: 0, mismatchesByMnemonic: {}, mismatches: [], ms: 0 };
    const maxStream = o.maxStream ?? 48;
    let nextProgress = 100_000;
    for (let k = o.onlyStream ?? 0; r.compared < o.count; k++) {
      this.stream(k, maxStream, r, o.maxMismatches ?? 20);
      r.streams++;
      if (o.onlyStream !== undefined || r.mismatchCount >= (o.maxMismatches ?? 20)) break;
      if (r.compared >= nextProgress) { nextProgress += 100_000; r.ms = performance.now() - t0; o.progress?.(r); }
    }
    r.ms = performance.now() - t0;
    return r;
  }

  /** Sets up stream `k` on both sides and steps it. */
  private stream(k: number, maxStream: number, r: LockstepReport, maxDetailed: number): void {
    const L = this.layout, cpu = this.cpu;
    const gen = Math.floor(k / CODE_REGEN);
    if (gen !== this.codeGen) {
      this.codeGen = gen;
      this.code = new Uint8Array(WINDOW);
      this.starts = fillCode(this.code, CODE_END, this.defs, new Rng(streamSeed(r.seed ^ 0x5eed, gen)), L.bits);
    }
    this.curStream = k;
    const rng = new Rng(streamSeed(r.seed, k));
    rng.fill(this.data);
    if (L.stackBase !== L.dataBase) rng.fill(this.stackData);
    // Now and then plant selector-like words, so segment loads from memory reach real descriptors.
    for (let i = 0; i < 64; i++) { const at = rng.below(WINDOW - 1); const s = INTERESTING_SELECTORS[rng.below(INTERESTING_SELECTORS.length)]!; this.data[at] = s; this.data[at + 1] = s >>> 8; }
    // Both memories: the interpreter's through dmaWrite (drops decoded code it overwrites), KVM's directly.
    this.mem.dmaWrite(L.sysBase, L.sys);
    this.mem.dmaWrite(L.codeBase, this.code);
    this.mem.dmaWrite(L.dataBase, this.data);
    if (L.stackBase !== L.dataBase) { this.mem.dmaWrite(L.stackBase, this.stackData); this.kram.set(this.stackData, L.stackBase); }
    this.kram.set(L.sys, L.sysBase);
    this.kram.set(this.code, L.codeBase);
    this.kram.set(this.data, L.dataBase);
    L.enter(cpu, this.starts[rng.below(this.starts.length)]!);
    for (let i = 0; i < 8; i++) cpu.r32[i] = randomReg(rng);
    if (rng.chance(0.3)) cpu.r16[rng.below(8) << 1] = INTERESTING_SELECTORS[rng.below(INTERESTING_SELECTORS.length)]!;
    cpu.r32[ESP] = L.bits === 16 || rng.chance(0.9) ? 0x100 + rng.below(0xfe00) & ~1 : randomReg(rng);
    cpu.setEflags(2 | (rng.u32() & 0x0ed5)); // CF PF AF ZF SF IF DF OF random; TF, IOPL, NT clear
    regsFromCpu(cpu, this.vm.regs);
    this.vm.setRegs();
    sregsFromCpu(cpu, this.vm.sregs, APIC_BASE_DEFAULT);
    if (this.sregsDirty) { this.vm.setSregs(); this.sregsDirty = false; }
    if (this.eventsDirty) { this.vm.clearEvents(); this.eventsDirty = false; }
    const segs0 = Array.from(cpu.segSel);
    new Uint8Array(this.sregs0.buffer).set(new Uint8Array(this.vm.sregs.buffer));
    const len = 1 + rng.below(maxStream);
    const codeView = this.mem.ram.subarray(L.codeBase, L.codeBase + WINDOW);
    for (let step = 0; step < len; step++) {
      const off = cpu.eip;
      if (off >= CODE_END || (L.bits === 16 && off > 0xffff - 15)) { this.end(r, 'reached the handler/NOP area'); return; }
      const insn = decodeHere(codeView, off, L.bits);
      if (!insn) { this.end(r, 'next bytes are not a table instruction'); return; }
      if (exclusionReason(insn.def!, this.mode)) { this.end(r, 'next instruction is excluded'); return; }
      const outcome = this.stepBoth(insn, k, step, r, maxDetailed, segs0);
      if (outcome !== 'continue') { this.end(r, outcome); return; }
    }
    this.end(r, 'stream length reached');
  }

  private end(r: LockstepReport, why: string): void {
    // At the end of a stream the code and system windows must agree too (CS-override stores,
    // descriptor accessed bits), and so must the segment registers.
    const L = this.layout, cpu = this.cpu;
    r.ends[why] = (r.ends[why] ?? 0) + 1;
    // After a mismatch, a known divergence or an instruction KVM could not run, the two
    // machines have already parted: there is nothing more to compare.
    if (why === 'mismatch' || why === 'KVM cannot execute the instruction' || why === 'known KVM divergence') return;
    {
      const ks = this.vm.getSregs();
      for (let s = 0; s < 6; s++) {
        const sel = ks.getUint16(KSEG[s]! + 12, true);
        if (sel !== cpu.segSel[s] || (Number(ks.getBigUint64(KSEG[s]!, true) & 0xffffffffn) !== cpu.segBase[s] && !nullDataSegment(this.mode, s, sel))) {
          r.mismatchCount++;
          r.mismatchesByMnemonic['(segments at stream end)'] = (r.mismatchesByMnemonic['(segments at stream end)'] ?? 0) + 1;
          break;
        }
      }
    }
    for (const [base, name] of [[L.codeBase, 'code'], [L.sysBase, 'system']] as const) {
      const n = name === 'code' ? WINDOW : L.sysLen;
      if (!this.ibuf.subarray(base, base + n).equals(this.kbuf.subarray(base, base + n))) {
        let at = 0;
        while (this.mem.ram[base + at] === this.kram[base + at]) at++;
        r.mismatches.push({ stream: this.curStream, step: -1, mnemonic: `(${name} window)`, bytes: '', disasm: `${name} window differs at stream end (${why})`, diffs: [`first difference at linear ${hex(base + at)}: interp ${hex(this.mem.ram[base + at]!, 2)}, kvm ${hex(this.kram[base + at]!, 2)}`], before: '', interp: '', kvm: '', repro: `--mode ${this.mode} --seed ${r.seed} --stream ${this.curStream}` });
        r.mismatchCount++;
        r.mismatchesByMnemonic[`(${name} window at stream end)`] = (r.mismatchesByMnemonic[`(${name} window at stream end)`] ?? 0) + 1;
      }
    }
  }

  /** KVM: one single-step, classified. */
  private kvmStep(): KStep {
    const s = this.ks;
    s.kind = 'ok'; s.nr = -1; s.err = -1; s.msg = '';
    const x = this.vm.runOnce(0);
    if (x.kind === ExitKind.Debug) return s;
    if (x.kind === ExitKind.Halt || x.kind === ExitKind.InternalError) {
      const e = this.vm.pendingException();
      if (e) { s.kind = 'fault'; s.nr = e.nr; s.err = e.error; return s; }
      s.kind = x.kind === ExitKind.Halt ? 'odd' : 'cannot';
      s.msg = x.kind === ExitKind.Halt ? 'HLT exit without a pending exception' : exitMessage(x);
      return s;
    }
    s.kind = 'odd';
    s.msg = x.kind === ExitKind.Shutdown ? 'KVM_EXIT_SHUTDOWN' : `unexpected exit (kind ${x.kind}, reason ${x.code})`;
    return s;
  }

  /** Interpreter: one instruction; the fault (not yet delivered, EIP restored) or null. */
  private interpStep(): { vec: number; err: number } | null {
    const cpu = this.cpu;
    try {
      cpu.step();
      return null;
    } catch (e) {
      if (e !== FAULT) throw e;
      cpu.eip = cpu.startEip;
      return { vec: cpu.excVector, err: cpu.excError };
    }
  }

  private stepBoth(insn: Insn, stream: number, step: number, r: LockstepReport, maxDetailed: number, segs0: number[]): string {
    const cpu = this.cpu, vm = this.vm, L = this.layout;
    const def = insn.def!;
    const rep = insn.rep !== 0 && isString(def);
    // A REP string instruction with a huge count would be 65536+ single steps on a KVM that
    // steps per iteration; bound it (the same value on both sides, before either runs).
    if (rep) {
      const cx = insn.asize === 16 ? cpu.r16[ECX << 1]! : cpu.r32[ECX]! >>> 0;
      if (cx > 64) {
        if (insn.asize === 16) cpu.r16[ECX << 1] = cx & 0x3f; else cpu.r32[ECX] = cx & 0x3f;
        vm.getRegs().setBigUint64(16, BigInt(cpu.r32[ECX]! >>> 0), true);
        vm.setRegs();
      }
    }
    this.pre.set(cpu.r32.subarray(0, 8));
    this.pre[8] = cpu.eip; this.pre[9] = cpu.getEflags();
    this.preCount = cpu.r32[ECX]! & 0xff;
    const startEip = cpu.eip;
    // KVM side.
    let ks = this.kvmStep();
    let kregs = vm.getRegs();
    for (let n = 0; rep && ks.kind === 'ok' && Number(kregs.getBigUint64(RIP, true)) === startEip && n < 200; n++) {
      ks = this.kvmStep();
      kregs = vm.getRegs();
    }
    // INT n / INT3 / INTO: the step can end with the software interrupt injected but not yet
    // delivered (RIP still at the INT, IF already clear); the next step delivers it.
    const softInt = def.code >= 0xcc && def.code <= 0xce;
    for (let n = 0; softInt && ks.kind === 'ok' && Number(kregs.getBigUint64(RIP, true)) === startEip && n < 2; n++) {
      ks = this.kvmStep();
      kregs = vm.getRegs();
    }
    // KVM_GET_SREGS costs twice a step on PVM: read it only when segments can have changed
    // (a segment-loading or far instruction, a fault, or a handler entered); the end of
    // every stream compares them in any case.
    const kripNow = Number(kregs.getBigUint64(RIP, true) & 0xffffffffn);
    const stubOff = kripNow >= STUB_OFF && kripNow < STUB_OFF + 256 * 4;
    const segsMayChange = SEG_CHANGERS.has(def.code) || (def.code === 0xff && (insn.reg === 3 || insn.reg === 5)) || ks.kind !== 'ok' || stubOff;
    const ksregs = segsMayChange ? vm.getSregs() : this.sregs0;
    if (segsMayChange) this.sregsDirty = true;
    if (ks.kind !== 'ok') this.eventsDirty = true;
    // Interpreter side.
    let ifault = this.interpStep();
    for (let n = 0; rep && !ifault && cpu.eip === startEip && n < 100_000; n++) ifault = this.interpStep();

    const mnemonic = (): string => def.mnem.split('|')[insn.osize === 32 ? 1 : 0] ?? def.mnem;
    if (ks.kind === 'cannot') {
      const mnem = mnemonic();
      r.kvmCannot[mnem] = (r.kvmCannot[mnem] ?? 0) + 1;
      return 'KVM cannot execute the instruction';
    }
    const kLin = () => Number(ksregs.getBigUint64(SREGS.CS, true)) + Number(kregs.getBigUint64(RIP, true) & 0xffffffffn);
    const iLin = () => cpu.segBase[CS]! + cpu.eip;
    const stubLo = L.codeBase + STUB_OFF, stubHi = stubLo + 256 * 4;
    const inStub = (a: number) => a >= stubLo && a < stubHi;
    const diffs: string[] = [];
    let ended = '';
    let delivered = false;

    if (ifault && ks.kind === 'fault') {
      // Both raised an exception and neither delivered it: compare vector, error code and the state at the fault.
      if (ifault.vec !== ks.nr) diffs.push(`exception: interp #${ifault.vec}, kvm #${ks.nr}`);
      else if (ifault.err >= 0 && ks.err >= 0 && ifault.err !== ks.err) diffs.push(`error code: interp ${hex(ifault.err, 4)}, kvm ${hex(ks.err, 4)}`);
      ended = 'fault compared';
    } else if (ifault && ks.kind === 'ok' && inStub(kLin())) {
      // KVM delivered the fault (and ran the handler's first NOP): so does the interpreter.
      const kvec = Math.floor((kLin() - stubLo) / 4);
      if (kvec !== ifault.vec) diffs.push(`exception: interp #${ifault.vec}, kvm delivered #${kvec}`);
      try { deliverInterrupt(cpu, ifault.vec, INT_EXC, ifault.err, cpu.eip); } catch (e) { if (e === FAULT) diffs.push(`interp: delivering #${ifault.vec} faulted (#${cpu.excVector})`); else throw e; }
      delivered = true;
      ended = 'fault compared';
    } else if (ifault && ks.kind === 'odd' && ks.msg === 'KVM_EXIT_SHUTDOWN') {
      // KVM shut down (a fault while delivering #DF): the interpreter, delivering the same
      // fault with its escalation rules (SDM Vol.3A §6.15, Table 6-5), must triple-fault too.
      const sp = cpu.r32[ESP]!;
      if (cpu.run(1) !== Exit.Shutdown) diffs.push(`kvm shut down (triple fault), the interpreter delivered #${ifault.vec} without one`);
      cpu.r32[ESP] = sp;
      this.sregsDirty = this.eventsDirty = true;
      if (!diffs.length) { r.faults['triple fault'] = (r.faults['triple fault'] ?? 0) + 1; r.compared++; }
      else { r.mismatchCount++; r.mismatchesByMnemonic[mnemonic()] = (r.mismatchesByMnemonic[mnemonic()] ?? 0) + 1; if (r.mismatches.length < maxDetailed) r.mismatches.push(this.describe(insn, stream, step, r.seed, diffs, this.preLine(), kregs, ksregs)); return 'mismatch'; }
      return 'triple fault compared';
    } else if (ifault || ks.kind !== 'ok') {
      if (ifault) diffs.push(`interp raised #${ifault.vec}${ifault.err >= 0 ? ` (error ${hex(ifault.err, 4)})` : ''}, kvm did not (${ks.kind === 'ok' ? 'stepped normally' : ks.msg || `#${ks.nr}`})`);
      else if (ks.kind === 'fault') diffs.push(`kvm raised #${ks.nr}${ks.err >= 0 ? ` (error ${hex(ks.err, 4)})` : ''}, interp did not`);
      else diffs.push(`kvm: ${ks.msg}`);
      ended = 'mismatch';
    } else if (inStub(iLin()) || inStub(kLin())) {
      delivered = inStub(iLin()) && inStub(kLin()) && def.code >= 0xcc && def.code <= 0xce; // INT3 / INT n / INTO
      ended = 'entered a handler';
    }
    if (ifault && !diffs.length) { const key = `#${ifault.vec}`; r.faults[key] = (r.faults[key] ?? 0) + 1; }
    if (delivered) {
      // KVM ran the handler's first instruction(s) already; the handler is NOPs.
      for (let n = 0; n < 4 && iLin() < kLin(); n++) if (this.interpStep()) break;
      this.clearLeakedTf(ifault?.err ?? -1);
    }
    if (!diffs.length || ended !== 'mismatch') this.compareState(insn, kregs, ksregs, diffs);
    const known = diffs.length ? explainDivergence(this.mode, insn, ifault, this.pre, diffs) : null;
    if (known) {
      r.explained[known] = (r.explained[known] ?? 0) + 1;
      this.sregsDirty = this.eventsDirty = true;
      return 'known KVM divergence';
    }
    if (diffs.length) {
      const mnem = mnemonic(), before = this.preLine();
      r.mismatchCount++;
      r.mismatchesByMnemonic[mnem] = (r.mismatchesByMnemonic[mnem] ?? 0) + 1;
      if (r.mismatches.length < maxDetailed) r.mismatches.push(this.describe(insn, stream, step, r.seed, diffs, before, kregs, ksregs));
      return 'mismatch';
    }
    r.compared++;
    // Where the two agree only up to undefined flags or an undefined result, carry on from
    // the interpreter's values so the next instruction starts from one state.
    if (!ended) this.syncUndefined(kregs);
    if (ended) return ended;
    if (cpu.flags & 0x100) return 'the guest set TF (the next step would trap)';
    for (let s = 0; s < 6; s++) if (cpu.segSel[s] !== segs0[s]) return 'a segment register changed';
    return 'continue';
  }

  private syncUndefined(kregs: DataView): void {
    const cpu = this.cpu;
    let same = Number(kregs.getBigUint64(RFLAGS, true) & 0xffffffffn) === cpu.getEflags();
    for (let i = 0; i < 8 && same; i++) same = Number(kregs.getBigUint64(KREG[i]! * 8, true) & 0xffffffffn) === cpu.r32[i]! >>> 0;
    if (same) return;
    regsFromCpu(cpu, this.vm.regs);
    this.vm.setRegs();
  }

  /** Real mode on PVM: single-step's TF shows in the FLAGS image a delivery pushed. Clear exactly that bit in KVM's copy. */
  private clearLeakedTf(err: number): void {
    const cpu = this.cpu;
    const ssBase = cpu.segBase[SS]!;
    const at = this.layout.bits === 16
      ? ssBase + ((cpu.r16[ESP << 1]! + 4) & 0xffff)
      : ssBase + ((cpu.r32[ESP]! >>> 0) + (err >= 0 ? 12 : 8));
    if (at + 1 >= RAM_BYTES) return;
    if ((this.mem.ram[at + 1]! & 1) === 0 && (this.kram[at + 1]! & 1) === 1) this.kram[at + 1]! &= ~1;
  }

  private compareState(insn: Insn, kregs: DataView, ksregs: DataView, diffs: string[]): void {
    const cpu = this.cpu, L = this.layout;
    const def = insn.def!;
    // BSF/BSR with a zero source leave the destination undefined (SDM Vol.2A BSF/BSR).
    const undefDest = undefinedDestination(insn, cpu, this.preCount);
    for (let i = 0; i < 8; i++) {
      if (i === undefDest) continue;
      const a = cpu.r32[i]! >>> 0, b = Number(kregs.getBigUint64(KREG[i]! * 8, true) & 0xffffffffn);
      if (a !== b) diffs.push(`${REGN[i]}: interp ${hex(a)}, kvm ${hex(b)}`);
    }
    const keip = Number(kregs.getBigUint64(RIP, true) & 0xffffffffn);
    if (cpu.eip !== keip) diffs.push(`eip: interp ${hex(cpu.eip)}, kvm ${hex(keip)}`);
    const mask = FLAGS_COMPARED & ~flagMask(def.u) & ~(undefDest >= 0 && (def.code === 0x1a4 || def.code === 0x1a5 || def.code === 0x1ac || def.code === 0x1ad) ? 0x8d5 : 0);
    const fi = cpu.getEflags(), fk = Number(kregs.getBigUint64(RFLAGS, true) & 0xffffffffn);
    if ((fi & mask) !== (fk & mask)) diffs.push(`eflags: interp ${hex(fi)}, kvm ${hex(fk)} (differing ${hex((fi ^ fk) & mask, 6)}, undefined here ${hex(flagMask(def.u), 3)})`);
    for (let s = 0; s < 6; s++) {
      const sel = ksregs.getUint16(KSEG[s]! + 12, true), base = Number(ksregs.getBigUint64(KSEG[s]!, true) & 0xffffffffn);
      if (sel !== cpu.segSel[s] || (base !== cpu.segBase[s] && !nullDataSegment(this.mode, s, sel))) diffs.push(`${SEG[s]}: interp ${hex(cpu.segSel[s]!, 4)}/${hex(cpu.segBase[s]!)}, kvm ${hex(sel, 4)}/${hex(base)}`);
    }
    if (undefDest === UNDEF_MEMORY) {
      // The operand may be anywhere a segment override reaches: the data or the code window.
      for (const base of [...this.compared, L.codeBase]) this.kram.set(this.mem.ram.subarray(base, base + WINDOW), base);
      return;
    }
    // --paranoid: the code window after every step too (CS-override stores), not only at stream end.
    const c0 = L.codeBase;
    if (this.paranoid && !this.ibuf.subarray(c0, c0 + WINDOW).equals(this.kbuf.subarray(c0, c0 + WINDOW))) {
      let at = 0;
      while (this.mem.ram[c0 + at] === this.kram[c0 + at]) at++;
      diffs.push(`code memory differs first at linear ${hex(c0 + at)} (interp ${hex(this.mem.ram[c0 + at]!, 2)}, kvm ${hex(this.kram[c0 + at]!, 2)})`);
    }
    for (const w of this.compared) {
      if (this.ibuf.subarray(w, w + WINDOW).equals(this.kbuf.subarray(w, w + WINDOW))) continue;
      let first = -1, count = 0;
      for (let i = 0; i < WINDOW; i++) if (this.mem.ram[w + i] !== this.kram[w + i]) { if (first < 0) first = i; count++; }
      diffs.push(`memory: ${count} byte(s) differ, first at linear ${hex(w + first)} (interp ${hex(this.mem.ram[w + first]!, 2)}, kvm ${hex(this.kram[w + first]!, 2)})`);
    }
  }

  private preLine(): string {
    const p = this.pre;
    return `${REGN.map((n, i) => `${n}=${hex(p[i]!)}`).join(' ')} eip=${hex(p[8]!)} eflags=${hex(p[9]!)}`;
  }

  private stateLine(): string {
    const c = this.cpu;
    return `${REGN.map((n, i) => `${n}=${hex(c.r32[i]!)}`).join(' ')} eip=${hex(c.eip)} eflags=${hex(c.getEflags())}`;
  }

  private describe(insn: Insn, stream: number, step: number, seed: number, diffs: string[], before: string, kregs: DataView, ksregs: DataView): Mismatch {
    const L = this.layout, cpu = this.cpu;
    const off = this.pre[8]! >>> 0;
    // After the step the interpreter's RAM may differ; the bytes come from the stream's code as generated.
    const orig = this.code.subarray(off, off + insn.len);
    const text = disassembleOne(orig, 0, off, L.bits).text;
    const kvmLine = `${REGN.map((n, i) => `${n}=${hex(Number(kregs.getBigUint64(KREG[i]! * 8, true) & 0xffffffffn))}`).join(' ')} eip=${hex(Number(kregs.getBigUint64(RIP, true) & 0xffffffffn))} eflags=${hex(Number(kregs.getBigUint64(RFLAGS, true) & 0xffffffffn))} cs=${hex(ksregs.getUint16(SREGS.CS + 12, true), 4)}`;
    return {
      stream, step, mnemonic: insn.def!.mnem, bytes: [...orig].map((b) => hex(b, 2)).join(' '), disasm: text, diffs, before,
      interp: `${this.stateLine()} cs=${hex(cpu.segSel[CS]!, 4)}`, kvm: kvmLine,
      repro: `mode ${this.mode}, ${L.bits}-bit code at ${hex(L.codeBase + off)}: bytes ${[...orig].map((b) => hex(b, 2)).join(' ')}; state before: ${before}; data window = stream ${stream} of seed ${seed} (node dist/lockstep.js --mode ${this.mode} --seed ${seed} --stream ${stream})`,
    };
  }
}

/**
 * A data segment register holding a null selector in protected mode: its hidden base is
 * not observable (every access through it faults, SDM Vol.3A §3.4.2) and CPUs differ in
 * what they keep there (KVM reports 0), so only the selector is compared.
 */
function nullDataSegment(mode: LockstepMode, s: number, sel: number): boolean {
  return mode === 'pm32' && s !== CS && s !== SS && (sel & 0xfffc) === 0;
}

/**
 * The register an instruction leaves undefined, or -1 (SDM Vol.2): BSF/BSR with a zero
 * source; SHLD/SHRD with a count above the operand size; BSWAP of a 16-bit register.
 */
function undefinedDestination(insn: Insn, cpu: Cpu, preCl: number): number {
  const c = insn.def!.code;
  if ((c === 0x1bc || c === 0x1bd) && (cpu.getEflags() & ZF) !== 0) return insn.reg;
  if (c >= 0x1c8 && c <= 0x1cf && insn.osize === 16) return c - 0x1c8;
  if (c === 0x1a4 || c === 0x1ac || c === 0x1a5 || c === 0x1ad) {
    const count = (c === 0x1a4 || c === 0x1ac ? insn.imm : preCl) & 31;
    if (count > (insn.osize === 16 ? 16 : 32)) return insn.mod === 3 ? insn.rm : UNDEF_MEMORY;
  }
  return -1;
}

/**
 * Differences that are KVM's, not the interpreter's: on this project's PVM host real mode
 * and non-paged protected mode run in KVM's x86 instruction emulator
 * (arch/x86/kvm/emulate.c), which departs from the SDM in these narrow, recognisable
 * cases. Each predicate is as tight as the evidence allows; anything else is a mismatch.
 */
export function explainDivergence(mode: LockstepMode, insn: Insn, ifault: { vec: number; err: number } | null, pre: Int32Array, diffs: string[]): string | null {
  // Real-mode delivery clearing ESP[31:16] can come on top of another divergence in the
  // same instruction: take it out first, then explain the rest (all of it, or nothing).
  const c = insn.def!.code;
  const delivered = ifault !== null || (c >= 0xcc && c <= 0xce);
  if (mode === 'real' && delivered && diffs.length > 1) {
    const rest = diffs.filter((d) => !espUpperCleared(d));
    if (rest.length < diffs.length) {
      const other = explainOne(mode, insn, ifault, pre, rest);
      return other ? `${other} + ${ESP_UPPER}` : null;
    }
  }
  return explainOne(mode, insn, ifault, pre, diffs);
}

const ESP_UPPER = 'real-mode exception/interrupt delivery: KVM clears ESP[31:16], the SDM updates SP only (interpreter)';

/** An "esp:" difference where only KVM's upper half is cleared. */
function espUpperCleared(d: string): boolean {
  const m = /^esp: interp ([0-9a-f]+), kvm ([0-9a-f]+)$/.exec(d);
  return m !== null && (parseInt(m[1]!, 16) & 0xffff) === parseInt(m[2]!, 16) && parseInt(m[2]!, 16) <= 0xffff;
}

function explainOne(mode: LockstepMode, insn: Insn, ifault: { vec: number; err: number } | null, pre: Int32Array, diffs: string[]): string | null {
  const c = insn.def!.code;
  const only = (re: RegExp): boolean => diffs.every((d) => re.test(d));
  // AAM/AAD: SDM Vol.2A sets SF, ZF and PF from AL; KVM's em_aam/em_aad compute them with a
  // 16-bit OR over AX, so SF follows AH's bit 7 (and ZF needs AX = 0).
  if ((c === 0xd4 || c === 0xd5) && only(/^eflags: /)) {
    const m = /differing ([0-9a-f]+)/.exec(diffs[0]!);
    if (m && (parseInt(m[1]!, 16) & ~0xc0) === 0) return 'AAM/AAD: KVM computes SF/ZF over AX instead of AL (emulate.c em_aam/em_aad; SDM: from AL)';
  }
  // A REP CMPS/SCAS that faults after some iterations: each completed iteration has updated
  // the flags (SDM Vol.2B REP; the interpreter keeps them), KVM's emulator still shows the
  // flags from before the instruction. Only the flags (and their pushed image) may differ.
  if ((c === 0xa6 || c === 0xa7 || c === 0xae || c === 0xaf) && insn.rep && ifault && only(/^(eflags|memory): /)) return 'REP CMPS/SCAS faulting mid-way: KVM keeps the pre-instruction flags, the interpreter those of the last completed iteration';
  // MOV CS (or a reserved Sreg) from a memory operand that would fault: #UD is a decode-time
  // fault and outranks the operand's #GP/#SS (SDM Vol.3A §6.9, Table 6-2); KVM's emulator
  // reads the operand first.
  if (c === 0x8e && (insn.reg === 1 || insn.reg > 5) && diffs.some((d) => /^exception: interp #6, kvm (delivered )?#1[23]$/.test(d))) return 'MOV CS/reserved Sreg with a faulting memory operand: #UD outranks #GP/#SS (interpreter), KVM reads the operand first';
  // The reserved hint-NOP space 0F 19-0F 1E: P6-family CPUs execute it as NOP Ev (SDM Vol.2B
  // NOP, Table A-3), and so does the interpreter; KVM's emulator does not know it and
  // injects #UD or #GP (or stops with an internal error, counted as "could not execute").
  if (c >= 0x119 && c <= 0x11e && !ifault) return 'hint NOP 0F 19-0F 1E: KVM injects #UD/#GP, P6-family CPUs (and the interpreter) execute NOP';
  // ARPL: KVM's emulator on this host either stops with an internal error (counted as
  // "could not execute") or leaves garbage state and shuts down.
  if (c === 0x63 && /^kvm: KVM_EXIT_SHUTDOWN/.test(diffs[0]!)) return 'ARPL: KVM mis-executes it (garbage state, then shutdown)';
  // POP Sreg with a 32-bit operand at the top of the stack segment: the interpreter checks
  // all four popped bytes against the SS limit (#SS, SDM Vol.2B POP "If the starting or
  // ending stack address is not within the stack segment"), KVM only the two it loads and
  // then faults on the selector (#GP). Processors differ in how much they read here.
  if ([0x07, 0x17, 0x1f, 0x1a1, 0x1a9].includes(c) && insn.osize === 32 && (pre[ESP]! & 0xffff) >= 0xfffd && diffs.some((d) => /^exception: interp #12, kvm (delivered )?#13$/.test(d))) return 'POP Sreg (32-bit operand) at the SS limit: the interpreter checks 4 bytes (#SS), KVM 2 (then #GP on the selector)';
  // ENTER: KVM's em_enter pushes (E)BP at the stack width whatever the operand size, and
  // never checks the new (E)SP against the SS limit; the SDM pushes BP at the operand size
  // and raises #SS(0) for a new SP outside the limit (Vol.2A ENTER).
  if (c === 0xc8 && ((insn.osize === 16) === (mode === 'pm32') || /^interp raised #12/.test(diffs[0]!))) return 'ENTER: KVM pushes (E)BP at the stack width and skips the SS-limit check on the new (E)SP (emulate.c em_enter)';
  if (mode === 'pm32') {
    // PVM builds the frame of a protected-mode exception at linear ESP without SS's base or
    // limit (see layout.ts); where the interpreter's delivery faults on the SS limit
    // (SDM Vol.3A §6.12.1: #SS, then #DF), PVM writes the frame anyway.
    if (ifault && diffs.some((d) => /^interp: delivering #\d+ faulted \(#12\)$/.test(d)) && ((pre[ESP]! >>> 0) > 0xffff || (pre[ESP]! >>> 0) < 16)) return 'pm32 exception frame beyond the SS limit: PVM writes it (no SS limit check), the interpreter raises #SS/#DF';
    // On delivery PVM also clears EFLAGS.AC; the SDM clears only TF, NT, VM, RF (and IF for
    // interrupt gates) in protected mode (Vol.3A §6.12.1.3; AC is cleared only in real mode).
    if (ifault && only(/^eflags: .*\(differing 040000,/)) return 'pm32 exception delivery: PVM clears EFLAGS.AC, the SDM keeps it (interpreter)';
  }
  if (mode === 'real') {
    // LEAVE whose pop of BP straddles offset 0xFFFF: the SDM's LEAVE page lists #GP for
    // real-address mode (the interpreter follows it); KVM raises #SS as for other stack pops.
    if (c === 0xc9 && diffs.some((d) => /^exception: interp #13, kvm (delivered )?#12$/.test(d))) return 'real-mode LEAVE beyond offset 0xFFFF: the SDM lists #GP (interpreter), KVM raises #SS';
    // INT n with n >= 0x80 in real mode: PVM neither delivers it nor completes it (RIP stays
    // at the INT with IF cleared; measured for every vector: 0x00-0x7f are delivered, 0x80-0xff
    // are not). The interpreter delivers it through the IVT as the SDM says.
    if (c === 0xcd && (insn.imm & 0xff) >= 0x80 && diffs.some((d) => /^eip: /.test(d))) return 'real-mode INT n with n >= 0x80: PVM does not deliver it under single-step';
    // Delivering an exception or interrupt with a 16-bit stack updates SP only; KVM leaves
    // ESP[31:16] cleared (SDM Vol.3A §20.1.4: real-mode delivery pushes with SP).
    if (diffs.length === 1 && espUpperCleared(diffs[0]!) && (ifault !== null || (c >= 0xcc && c <= 0xce))) return ESP_UPPER;
    // INT n/INT3/INTO with an operand-size prefix: the SDM's real-mode INT pushes 16-bit
    // FLAGS, CS and IP; KVM's emulate_int_real pushes at the operand size (a 12-byte frame).
    if (c >= 0xcc && c <= 0xce && insn.osize === 32) return 'real-mode INT with a 66 prefix: KVM pushes a 32-bit frame (emulate_int_real; SDM: 16-bit FLAGS/CS/IP)';
    // A stack access that straddles the top of the 64 KiB stack segment (a push with SP < 2,
    // a pop with SP > 0xFFFE - size) raises #SS on a 386+ (SDM Vol.2B PUSH/POP, real-address
    // mode exceptions), also while an exception is being delivered; KVM's emulator wraps.
    const sp = pre[ESP]! & 0xffff;
    const ss = (ifault?.vec === 12) || diffs.some((d) => /faulted \(#12\)/.test(d));
    if (ss && (sp < 16 || sp > 0xfff0)) return 'real-mode stack push across offset 0xFFFF: KVM wraps, the SDM raises #SS (interpreter)';
  }
  return null;
}

/** Runs the harness, or returns why it cannot run here. */
export function runLockstep(o: LockstepOptions): LockstepReport | string {
  let h: Lockstep;
  try { h = new Lockstep(o.mode); h.paranoid = o.paranoid ?? false; } catch (e) { if (e instanceof LockstepUnavailable) return e.message; throw e; }
  try { return h.run(o); } finally { h.close(); }
}

export function formatReport(r: LockstepReport): string {
  const lines = [
    `lockstep ${r.mode}: ${r.compared} instructions compared in ${r.streams} streams, ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.compared / (r.ms / 1000))}/s), seed ${r.seed}`,
    `  mismatches: ${r.mismatchCount}${r.mismatchCount ? ` ${JSON.stringify(r.mismatchesByMnemonic)}` : ''}`,
    `  faults compared: ${JSON.stringify(r.faults)}`,
    `  explained (KVM departs from the SDM; see explainDivergence): ${JSON.stringify(r.explained)}`,
    `  KVM could not execute (host limitation, not compared): ${JSON.stringify(r.kvmCannot)}`,
    `  streams ended: ${JSON.stringify(r.ends)}`,
  ];
  for (const m of r.mismatches) {
    lines.push(`  MISMATCH stream ${m.stream} step ${m.step}: ${m.bytes}  ${m.disasm}`);
    for (const d of m.diffs) lines.push(`    ${d}`);
    lines.push(`    before: ${m.before}`, `    interp: ${m.interp}`, `    kvm:    ${m.kvm}`, `    reproducer: ${m.repro}`);
  }
  return lines.join('\n');
}
