// The debugger core: breakpoints, watchpoints, stepping, step-over, continue, register
// and memory access for the front ends (`ts86 step`, its TUI, the gdb stub, traces).
// It knows nothing of terminals or sockets.
//
// How stops are made exact without touching the interpreter's fast path:
// - With no breakpoints, watchpoints or instruction hook, `cont` is plain
//   `machine.runFor` in large slices: the CPU runs at full speed.
// - Otherwise the debugger shadows `cpu.step` on the Cpu *instance* with a check that
//   runs at every instruction boundary, after the run loop has delivered any pending
//   interrupt (so a breakpoint on the first instruction of an interrupt handler hits),
//   and before the instruction executes. To stop, the check returns without executing
//   and pauses the machine: `Cpu.run` sees its stop request at the top of its loop
//   and `Machine.runFor` returns at once, with the guest state exactly at the
//   instruction boundary. The shadow is removed when nothing needs it, restoring the
//   prototype method (and the untouched fast path).
// - Watchpoints use `cpu.memWatch` (installed only while watchpoints exist); a hit is
//   recorded during the instruction and reported after it completes, as data
//   breakpoints are on x86 (SDM Vol.3A §17.3.1.2: data breakpoints are traps).
import { Cpu } from '../cpu/cpu';
import { CS, DS, ES, FS, GS, SS, VM } from '../cpu/consts';
import { FAULT } from '../cpu/cpu';
import { loadSegReg } from '../cpu/descriptors';
import { writeCr0, writeCr4 } from '../cpu/ops-system';
import { REP_NONE } from '../cpu/insn';
import type { Machine, RunOutcome } from '../machine/machine';
import { peekLinear } from '../machine/dump';
import { decodeAt } from './disasm';

export type StopReason = 'step' | 'breakpoint' | 'watchpoint' | 'requested' | 'budget' | 'exited' | 'halted';

export interface StopEvent {
  reason: StopReason;
  /** EIP (offset in CS) and its linear address at the stop. */
  eip: number;
  linear: number;
  /** The watchpoint that fired (the first one, when an instruction hit several). */
  watch?: { id: number; addr: number; write: boolean };
  /** The machine's outcome when the guest ended ('exited'). */
  outcome?: RunOutcome;
}

export interface RegisterSnapshot {
  eax: number; ecx: number; edx: number; ebx: number; esp: number; ebp: number; esi: number; edi: number;
  eip: number; eflags: number;
  cs: number; ss: number; ds: number; es: number; fs: number; gs: number;
  cr0: number; cr2: number; cr3: number; cr4: number;
}

/** Register names in display order (also the order of RegisterSnapshot's fields). */
export const REGISTER_NAMES: readonly (keyof RegisterSnapshot)[] = [
  'eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags',
  'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4',
];

const GPR_INDEX: Partial<Record<keyof RegisterSnapshot, number>> = { eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7 };
const SEG_INDEX: Partial<Record<keyof RegisterSnapshot, number>> = { es: ES, cs: CS, ss: SS, ds: DS, fs: FS, gs: GS };

export type WatchKind = 'write' | 'read' | 'access';

interface Watchpoint { id: number; kind: WatchKind; addr: number; len: number; space: 'linear' | 'physical' }

/** Called at every instruction boundary while set, before the instruction at `linear` executes. */
export type InstructionHook = (linear: number) => void;

/** What one resume is waiting for, besides breakpoints, watchpoints and requestStop. */
interface RunGoal {
  /** Stop before executing the instruction at this linear address (-1: none)… */
  targetLin: number;
  /** …but only once the stack pointer is at or above this (step over a recursive CALL); -1: any. */
  targetSp: number;
  /** How reaching the target is reported. */
  reportAs: 'step' | 'breakpoint';
}

/** Default host time per slice of the async runners: short enough for keys and sockets to be served. */
const ASYNC_SLICE_NS = 20e6;

export class Debugger {
  readonly machine: Machine;
  readonly cpu: Cpu;
  private nextBpId = 1;
  private nextWpId = 1;
  /** id → linear, and linear → id (one breakpoint per address). */
  private readonly bpById = new Map<number, number>();
  private readonly bpByLin = new Map<number, number>();
  private readonly wps = new Map<number, Watchpoint>();
  private stopPending = false;
  private hook: InstructionHook | null = null;

  // State of the resume in progress (read by the step shadow).
  private goal: RunGoal = { targetLin: -1, targetSp: -1, reportAs: 'step' };
  /** The linear EIP at which the current resume started: its first instruction ignores a breakpoint there. */
  private startLin = -1;
  private firstBoundary = false;
  private hit: 'breakpoint' | 'target' | 'watchpoint' | 'requested' | null = null;
  private watchHit: { id: number; addr: number; write: boolean } | null = null;
  private shadowInstalled = false;
  private readonly protoStep: () => void;

  constructor(machine: Machine) {
    this.machine = machine;
    this.cpu = machine.cpu;
    this.protoStep = Cpu.prototype.step;
  }

  // ---------------------------------------------------------------- breakpoints

  /** Adds an execution breakpoint at a linear address; returns its id (the existing id if one is there). */
  addBreakpoint(linear: number): number {
    linear >>>= 0;
    const have = this.bpByLin.get(linear);
    if (have !== undefined) return have;
    const id = this.nextBpId++;
    this.bpById.set(id, linear);
    this.bpByLin.set(linear, id);
    return id;
  }

  /** Removes a breakpoint by id, or else by linear address. */
  removeBreakpoint(idOrLinear: number): boolean {
    let lin = this.bpById.get(idOrLinear);
    let id = idOrLinear;
    if (lin === undefined) {
      const byLin = this.bpByLin.get(idOrLinear >>> 0);
      if (byLin === undefined) return false;
      id = byLin;
      lin = idOrLinear >>> 0;
    }
    this.bpById.delete(id);
    this.bpByLin.delete(lin);
    return true;
  }

  breakpoints(): { id: number; linear: number }[] {
    return [...this.bpById].map(([id, linear]) => ({ id, linear })).sort((a, b) => a.id - b.id);
  }

  hasBreakpoint(linear: number): boolean { return this.bpByLin.has(linear >>> 0); }

  // ---------------------------------------------------------------- watchpoints

  /**
   * Adds a data watchpoint on [addr, addr+len). 'linear' compares the linear address
   * of each access; 'physical' compares the frame it translates to (without side
   * effects), so an alias mapping is caught too. Data accesses through a segment are
   * watched (operands, stack, string instructions, x87 operands); implicit system
   * accesses (descriptor tables, IDT, TSS, page walks) are not.
   */
  addWatchpoint(kind: WatchKind, addr: number, len: number, space: 'linear' | 'physical' = 'linear'): number {
    if (!(len >= 1)) throw new RangeError(`watchpoint length ${len}: must be at least 1`);
    const id = this.nextWpId++;
    this.wps.set(id, { id, kind, addr: addr >>> 0, len: Math.floor(len), space });
    this.updateMemWatch();
    return id;
  }

  removeWatchpoint(id: number): boolean {
    const ok = this.wps.delete(id);
    this.updateMemWatch();
    return ok;
  }

  watchpoints(): { id: number; kind: WatchKind; addr: number; len: number; space: 'linear' | 'physical' }[] {
    return [...this.wps.values()].map((w) => ({ ...w }));
  }

  private updateMemWatch(): void {
    if (this.wps.size === 0) { this.cpu.memWatch = null; return; }
    const list = [...this.wps.values()];
    this.cpu.memWatch = (lin, size, write) => {
      if (this.watchHit) return;
      for (const w of list) {
        if (w.kind === 'write' && !write) continue;
        if (w.kind === 'read' && write) continue;
        for (let k = 0; k < size; k++) {
          const a = (lin + k) >>> 0;
          const p = w.space === 'linear' ? a : this.cpu.peekTranslate(a);
          if (p === null) continue;
          if (((p - w.addr) >>> 0) < w.len) { this.watchHit = { id: w.id, addr: p, write }; return; }
        }
      }
    };
  }

  // ---------------------------------------------------------------- instruction hook

  /**
   * Calls `fn` at every instruction boundary (before the instruction executes) during
   * step/cont; null removes it. Tracing uses this; it slows the CPU down.
   */
  setInstructionHook(fn: InstructionHook | null): void { this.hook = fn; }

  // ---------------------------------------------------------------- running

  /** Asks a running (or the next) resume to stop at the next instruction boundary: it returns 'requested'. */
  requestStop(): void {
    this.stopPending = true;
    // Machine.pause makes Cpu.run and Machine.runFor return at the next boundary.
    this.machine.pause();
  }

  /** Executes `n` instructions; stops early at a breakpoint or watchpoint hit after the first one. */
  step(n = 1): StopEvent {
    return this.resume(Math.max(1, Math.floor(n)), { targetLin: -1, targetSp: -1, reportAs: 'step' }, Infinity, true) ?? this.event('budget');
  }

  /**
   * Steps over a CALL, INT n/INT3/INTO, a REP-prefixed string instruction or a
   * LOOP/LOOPcc/JCXZ (E0-E3): runs until EIP reaches the next instruction with the
   * stack no deeper than now (or a breakpoint/watchpoint, or `maxInstructions`).
   * Anything else is one step. Reaching the next instruction is reported as 'step'.
   */
  stepOver(maxInstructions = Infinity): StopEvent {
    const goal = this.stepOverGoal();
    if (!goal) return this.step(1);
    return this.resume(maxInstructions, goal, Infinity, false) ?? this.event('budget');
  }

  /** Runs until a breakpoint, watchpoint, requestStop(), the guest ending, or `maxInstructions` (then 'budget'). */
  cont(maxInstructions = Infinity, hostBudgetNs = Infinity): StopEvent {
    return this.resume(maxInstructions, { targetLin: -1, targetSp: -1, reportAs: 'step' }, hostBudgetNs, false) ?? this.event('budget');
  }

  /** Runs until EIP's linear address is `linear` (reported as 'breakpoint', like a temporary one), or anything cont stops for. */
  runTo(linear: number, maxInstructions = Infinity): StopEvent {
    return this.resume(maxInstructions, { targetLin: linear >>> 0, targetSp: -1, reportAs: 'breakpoint' }, Infinity, false) ?? this.event('budget');
  }

  /** cont() that yields to the host event loop every few ms, so keys, signals and sockets can call requestStop(). */
  contAsync(maxInstructions = Infinity): Promise<StopEvent> {
    return this.resumeAsync(maxInstructions, { targetLin: -1, targetSp: -1, reportAs: 'step' });
  }

  /** stepOver() that yields to the host event loop (a CALL may run for a long time). */
  stepOverAsync(maxInstructions = Infinity): Promise<StopEvent> {
    const goal = this.stepOverGoal();
    if (!goal) return Promise.resolve(this.step(1));
    return this.resumeAsync(maxInstructions, goal);
  }

  /** runTo() that yields to the host event loop. */
  runToAsync(linear: number, maxInstructions = Infinity): Promise<StopEvent> {
    return this.resumeAsync(maxInstructions, { targetLin: linear >>> 0, targetSp: -1, reportAs: 'breakpoint' });
  }

  private async resumeAsync(maxInstructions: number, goal: RunGoal): Promise<StopEvent> {
    let left = maxInstructions;
    for (;;) {
      const i0 = this.cpu.icount;
      const ev = this.resume(left, goal, ASYNC_SLICE_NS, false);
      left -= this.cpu.icount - i0;
      if (ev) return ev;
      if (left <= 0) return this.event('budget');
      await new Promise<void>((res) => setImmediate(res));
    }
  }

  /** The goal for stepping over the instruction at EIP, or null when it is a plain step. */
  private stepOverGoal(): RunGoal | null {
    const cpu = this.cpu;
    const lin = this.linearOfEip();
    const raw = peekLinear(cpu, lin, 15);
    const firstNull = raw.indexOf(null);
    const bytes = Uint8Array.from((firstNull < 0 ? raw : raw.slice(0, firstNull)) as number[]);
    if (bytes.length === 0) return null;
    const insn = decodeAt(bytes, 0, cpu.code32 ? 32 : 16);
    if (typeof insn === 'string') return null;
    const op = insn.op;
    const isCall = op === 0xe8 || op === 0x9a || (op === 0xff && (insn.reg === 2 || insn.reg === 3));
    const isInt = op === 0xcc || op === 0xcd || op === 0xce || op === 0xf1;
    const isString = (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || (op >= 0x6c && op <= 0x6f);
    const isLoop = op >= 0xe0 && op <= 0xe3;
    if (!(isCall || isInt || isLoop || (isString && insn.rep !== REP_NONE))) return null;
    const nextEip = cpu.code32 ? (cpu.eip + insn.len) >>> 0 : (cpu.eip + insn.len) & 0xffff;
    return { targetLin: (cpu.segBase[CS] + nextEip) >>> 0, targetSp: this.linearSp(), reportAs: 'step' };
  }

  private linearSp(): number {
    const cpu = this.cpu;
    return cpu.stack32 ? cpu.r32[4] >>> 0 : cpu.r16[8];
  }

  /**
   * One resume: up to `maxInstructions` instructions and `hostBudgetNs` of host time.
   * `isStep` makes a budget end a 'step' stop. Returns null when the host budget ran
   * out first (the async runners go on after yielding).
   */
  private resume(maxInstructions: number, goal: RunGoal, hostBudgetNs: number, isStep: boolean): StopEvent | null {
    const m = this.machine;
    if (this.stopPending) return this.takeRequested();
    this.goal = goal;
    this.hit = null;
    this.watchHit = null;
    this.startLin = this.linearOfEip();
    this.firstBoundary = true;
    const needShadow = this.hook !== null || this.bpByLin.size > 0 || this.wps.size > 0 || goal.targetLin >= 0;
    if (needShadow) this.installShadow(); else this.removeShadow();
    const i0 = this.cpu.icount;
    let outcome: RunOutcome | null;
    try {
      outcome = m.runFor(maxInstructions, hostBudgetNs);
    } finally {
      this.removeShadow();
    }
    if (outcome) return { ...this.event('exited'), outcome };
    const hit = this.hit;
    this.hit = null;
    if (this.stopPending) return this.takeRequested();
    if (hit === 'breakpoint') { m.resume(); return this.event('breakpoint'); }
    if (hit === 'target') { m.resume(); return this.event(goal.reportAs); }
    if (this.watchHit || hit === 'watchpoint') {
      if (hit) m.resume();
      const w = this.watchHit;
      this.watchHit = null;
      return w ? { ...this.event('watchpoint'), watch: w } : this.event('watchpoint');
    }
    if (m.isPaused) return null; // paused by someone else: treat as a host-budget end
    const ran = this.cpu.icount - i0;
    if (ran >= maxInstructions) {
      if (isStep) return this.event(this.cpu.halted ? 'halted' : 'step');
      return this.event('budget');
    }
    return null;
  }

  private takeRequested(): StopEvent {
    this.stopPending = false;
    this.hit = null;
    this.machine.resume();
    return this.event('requested');
  }

  private event(reason: StopReason): StopEvent {
    return { reason, eip: this.cpu.eip >>> 0, linear: this.linearOfEip() };
  }

  /** Shadows cpu.step with the boundary check (see the header comment). */
  private installShadow(): void {
    if (this.shadowInstalled) return;
    const cpu = this.cpu;
    const proto = this.protoStep;
    const stopHere = (why: 'breakpoint' | 'target' | 'watchpoint'): void => {
      this.hit = why;
      this.machine.pause();
    };
    cpu.step = (): void => {
      const lin = (cpu.segBase[CS] + cpu.eip) >>> 0;
      if (this.watchHit) { stopHere('watchpoint'); return; }
      const first = this.firstBoundary;
      this.firstBoundary = false;
      if (!(first && lin === this.startLin)) {
        if (this.bpByLin.has(lin)) { stopHere('breakpoint'); return; }
        const g = this.goal;
        if (lin === g.targetLin && (g.targetSp < 0 || this.linearSp() >= g.targetSp)) { stopHere('target'); return; }
      }
      if (this.hook !== null) this.hook(lin);
      proto.call(cpu);
    };
    this.shadowInstalled = true;
  }

  private removeShadow(): void {
    if (!this.shadowInstalled) return;
    Reflect.deleteProperty(this.cpu, 'step');
    this.shadowInstalled = false;
  }

  // ---------------------------------------------------------------- registers

  regs(): RegisterSnapshot {
    const c = this.cpu, r = c.r32;
    return {
      eax: r[0] >>> 0, ecx: r[1] >>> 0, edx: r[2] >>> 0, ebx: r[3] >>> 0, esp: r[4] >>> 0, ebp: r[5] >>> 0, esi: r[6] >>> 0, edi: r[7] >>> 0,
      eip: c.eip >>> 0, eflags: c.getEflags() >>> 0,
      cs: c.segSel[CS] & 0xffff, ss: c.segSel[SS] & 0xffff, ds: c.segSel[DS] & 0xffff, es: c.segSel[ES] & 0xffff, fs: c.segSel[FS] & 0xffff, gs: c.segSel[GS] & 0xffff,
      cr0: c.cr0 >>> 0, cr2: c.cr2 >>> 0, cr3: c.cr3 >>> 0, cr4: c.cr4 >>> 0,
    };
  }

  /**
   * Sets a register as the guest would see it. Segment registers load as MOV Sreg
   * does (descriptor from the GDT/LDT in protected mode); CS in protected mode keeps
   * its cached descriptor and only reloads the base when the selector is in range.
   * Throws an Error when the value cannot be loaded (bad selector, reserved CR bits).
   */
  setReg(name: keyof RegisterSnapshot, v: number): void {
    const c = this.cpu;
    v >>>= 0;
    const g = GPR_INDEX[name];
    if (g !== undefined) { c.r32[g] = v | 0; return; }
    const s = SEG_INDEX[name];
    if (s !== undefined) { this.setSeg(s, v & 0xffff); return; }
    try {
      switch (name) {
        case 'eip': c.eip = c.code32 ? v : v & 0xffff; return;
        case 'eflags': c.setEflags(v); c.updateMode(); return;
        case 'cr0': writeCr0(c, v); return;
        case 'cr2': c.cr2 = v; return;
        case 'cr3': c.loadCr3(v); return;
        case 'cr4': writeCr4(c, v); return;
        default: throw new Error(`unknown register ${String(name)}`);
      }
    } catch (e) {
      if (e === FAULT) throw new Error(`${name}=${v.toString(16)}: the CPU refuses that value (#GP)`);
      throw e;
    }
  }

  private setSeg(seg: number, sel: number): void {
    const c = this.cpu;
    if (seg === CS) {
      if (!c.protectedMode) {
        // Real / virtual-8086 mode: base = selector * 16, the rest of the cache stays.
        c.setSegCache(CS, sel, sel << 4, c.segLimit[CS], c.segAr[CS]);
      } else {
        c.segSel[CS] = sel;
      }
      c.updateMode();
      return;
    }
    try {
      loadSegReg(c, seg, sel);
    } catch (e) {
      if (e === FAULT) throw new Error(`selector ${sel.toString(16)} cannot be loaded into ${['es', 'cs', 'ss', 'ds', 'fs', 'gs'][seg]} (#GP/#NP/#SS)`);
      throw e;
    }
    if (seg === SS) c.updateMode();
  }

  // ---------------------------------------------------------------- memory

  /** Side-effect-free read (no A/D bits, no faults, no MMIO: null there or where unmapped). */
  readLinear(addr: number, len: number): (number | null)[] {
    return peekLinear(this.cpu, addr >>> 0, len);
  }

  readPhysical(addr: number, len: number): (number | null)[] {
    const mem = this.cpu.mem;
    const out: (number | null)[] = [];
    for (let k = 0; k < len; k++) {
      const p = addr + k;
      out.push(p < mem.ramSize && mem.isRam(p) ? mem.ram[p] : null);
    }
    return out;
  }

  /**
   * Writes bytes at a linear address (RAM only, through the side-effect-free
   * translation). All or nothing: false when any byte is unmapped or not RAM.
   * Goes through mem.write8, so decoded code and translations depending on the
   * written frames are invalidated (breakpoint-by-patching and gdb 'M' work).
   */
  writeLinear(addr: number, data: Uint8Array): boolean {
    const mem = this.cpu.mem;
    const phys: number[] = [];
    for (let k = 0; k < data.length; k++) {
      const p = this.cpu.peekTranslate((addr + k) >>> 0);
      if (p === null || p >= mem.ramSize || !mem.isRam(p)) return false;
      phys.push(p);
    }
    for (let k = 0; k < data.length; k++) mem.write8(phys[k], data[k]);
    return true;
  }

  linearOfEip(): number {
    return (this.cpu.segBase[CS] + this.cpu.eip) >>> 0;
  }

  /** True in virtual-8086 mode (front ends print CS:IP there as in real mode). */
  get v86(): boolean { return (this.cpu.getEflags() & VM) !== 0; }
}
