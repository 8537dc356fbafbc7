// Block dispatch and the block compiler against the plain interpreter: random straight-line
// programs run in lockstep (same random budgets) on three CPUs — every fast path off, blocks
// without compiling, and blocks compiled from their first run — and must agree on registers,
// EFLAGS, memory, EIP and the instruction count at every stop. Then the corners a block
// executor can get wrong: self-modifying code inside the running block, a fault in the middle
// of a block, interrupt shadows, an MMIO access that raises an interrupt, budgets that end
// inside a block, and single-stepping.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, HANDLERS, STACK_TOP } from '../helpers/cpu-harness';
import type { CpuOptions } from '../../src/cpu/cpu';
import type { Block } from '../../src/cpu/block';
import { GS } from '../../src/cpu/consts';
import { parseFastPaths } from '../../src/cpu/fastpaths';

const MODES: Record<string, CpuOptions> = {
  interp: { decodeCache: false, blocks: false, compile: false },
  blocks: { decodeCache: true, blocks: true, compile: false, links: false, sideExits: true },
  jit: { decodeCache: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: true, ramFast: true, regions: true, compileThreshold: 1, wasm: false },
  // The same with the WebAssembly tier (regions whose instructions it has run as WebAssembly).
  wasm: { decodeCache: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: true, ramFast: true, regions: true, compileThreshold: 1, wasm: true },
};
/** The random programs also run compiled without side exits and without loops (each switch's other setting). */
const EXTRA: Record<string, CpuOptions> = {
  jitNoSideExits: { ...MODES.jit, sideExits: false },
  jitNoLoops: { ...MODES.jit, loops: false },
  jitNoChain: { ...MODES.jit, chain: false },
  jitNoRamFast: { ...MODES.jit, ramFast: false },
  jitNoRegions: { ...MODES.jit, regions: false },
};

function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
}

const DST = [0, 1, 2, 3, 5, 7]; // never ESP (stack) or ESI (the data pointer)
const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const VALUES = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** One random instruction (bytes) from a menu weighted towards what the compiler writes out. */
function randomInsn(r: (n: number) => number): number[] {
  const d = DST[r(DST.length)], s = DST[r(DST.length)];
  const disp = r(32) * 4;
  switch (r(22)) {
    case 0: case 1: return [(r(8) << 3) | 1, 0xc0 | (s << 3) | d]; // ALU r32, r32 (01 form; ADC/SBB included)
    case 2: return [(r(8) << 3) | 3, 0xc0 | (d << 3) | s]; // ALU r32, r32 (03 form)
    case 3: return [0x83, 0xc0 | (r(8) << 3) | d, r(256)]; // ALU r32, imm8
    case 4: return [0x81, 0xc0 | (r(8) << 3) | d, ...imm32(VALUES[r(VALUES.length)])]; // ALU r32, imm32
    case 5: return [(r(8) << 3) | 5, ...imm32(VALUES[r(VALUES.length)])]; // ALU eAX, imm32
    case 6: return [(r(2) ? 0x40 : 0x48) + d]; // INC/DEC r32
    case 7: return [0x89, 0xc0 | (s << 3) | d]; // MOV r, r
    case 8: return [0xb8 + d, ...imm32(VALUES[r(VALUES.length)])]; // MOV r, imm32
    case 9: return [0x8b, 0x46 | (d << 3), disp]; // MOV r, [esi+d8]
    case 10: return [0x89, 0x46 | (s << 3), disp]; // MOV [esi+d8], r
    case 11: return [(r(8) << 3) | 3, 0x46 | (d << 3), disp]; // ALU r, [esi+d8]
    case 12: return [0x8d, 0x44 | (d << 3), (r(4) << 6) | (s << 3) | DST[r(DST.length)], r(256)]; // LEA r, [b+i*s+d8]
    case 13: return [r(2) ? 0x85 : 0x39, 0xc0 | (s << 3) | d]; // TEST / CMP r, r
    case 14: return [0xc1, 0xc0 | ([0, 1, 4, 5, 7][r(5)] << 3) | d, r(33)]; // ROL/ROR/SHL/SHR/SAR r, imm8
    case 15: return [0x0f, r(2) ? 0xb6 : 0xbe, 0x46 | (d << 3), disp]; // MOVZX/MOVSX r, byte [esi+d8]
    case 16: return [0x50 + s, 0x58 + d]; // PUSH s; POP d
    case 17: return [0x0f, 0x90 + r(16), 0xc0 | r(4)]; // SETcc r8
    case 18: return [0x0f, 0x40 + r(16), 0xc0 | (d << 3) | s]; // CMOVcc r, r
    case 19: return [0x66, (r(8) << 3) | 1, 0xc0 | (s << 3) | d]; // ALU r16, r16
    case 20: return [0x70 + r(16), 5, 0xb8 + d, ...imm32(r(0x10000))]; // Jcc over MOV r, imm32 (a side exit mid-block)
    default: return [r(2) ? 0xf8 : r(2) ? 0xf9 : 0xf5]; // CLC / STC / CMC
  }
}

/** Data operand [esi+d8]; sometimes [esi-2] or [esi-1] so that 16/32-bit accesses cross into the page below DATA. */
function mem(r: (n: number) => number, reg: number): number[] {
  if (r(8) === 0) return [0x46 | (reg << 3), r(2) ? 0xfe : 0xff];
  return [0x46 | (reg << 3), r(32) * 4 + r(4)];
}

/** The block at CS:EIP of a harness (from its fetch cache), to compile it on its own. */
function blockAtEip(h: Harness): Block {
  return (h.cpu as unknown as { fetchInsn(): { block: Block | null } }).fetchInsn().block!;
}

/** The compiled source of the block `bytes` (ESI = DATA, other registers from `regs`), after one run through the block executor. */
async function compiledSource(bytes: number[], regs: Record<number, number> = {}): Promise<string> {
  const { compileBlock, blockSource } = await import('../../src/cpu/jit');
  const h = new Harness(1, MODES.blocks).flat32([0xf4]);
  h.prepare(bytes, { 6: DATA, ...regs });
  h.runToHalt();
  h.cpu.eip = CODE;
  return blockSource(compileBlock(blockAtEip(h)));
}

/** The instruction kinds the second compiler round writes out: memory destinations, 8/16-bit forms, MUL, shifts by CL, ... */
function randomInsn2(r: (n: number) => number): number[] {
  const d = DST[r(DST.length)], s = DST[r(DST.length)];
  switch (r(33)) {
    case 0: case 1: return [(r(8) << 3) | 1, ...mem(r, s)]; // ALU [mem], r32 (read-modify-write; CMP reads)
    case 2: return [0x83, ...mem(r, r(8)), r(256)]; // ALU [mem], imm8
    case 3: return [0x81, ...mem(r, r(8)), ...imm32(VALUES[r(VALUES.length)])]; // ALU [mem], imm32
    case 4: return [(r(8) << 3) | (r(2) ? 0 : 2), 0xc0 | (r(8) << 3) | r(8)]; // ALU r8, r8 (AH..BH too)
    case 5: return [(r(8) << 3) | r(4), ...mem(r, s)]; // ALU 8/32-bit, memory on either side (never ESP)
    case 6: return [0x66, (r(8) << 3) | r(4), ...mem(r, s)]; // ALU 16-bit with memory
    case 7: return [0xf7, 0xe0 | (r(2) << 3) | s]; // MUL / IMUL r32 (EDX:EAX)
    case 8: return [0xf7, ...mem(r, 4 + r(2))]; // MUL / IMUL [mem]
    case 9: return r(2) ? [0x0f, 0xaf, 0xc0 | (d << 3) | s] : [0x6b, 0xc0 | (d << 3) | s, r(256)]; // IMUL r, r / IMUL r, r, imm8
    case 10: return [0xd3, 0xc0 | (r(8) << 3) | d]; // shifts/rotates r32 by CL (RCL/RCR included)
    case 11: return r(2) ? [0xd1, ...mem(r, r(8))] : [0xc1, ...mem(r, r(8)), r(40)]; // shift [mem] by 1 / imm8
    case 12: return r(2) ? [0xc0, 0xc0 | (r(8) << 3) | r(8), r(12)] : [0xd2, 0xc0 | (r(8) << 3) | r(8)]; // 8-bit shifts by imm8 / CL
    case 13: return [r(2) ? 0xff : 0xfe, ...mem(r, r(2))]; // INC/DEC dword/byte [mem]
    case 14: return [0xf7, ...mem(r, 2 + r(2))]; // NOT/NEG [mem]
    case 15: return [0xf7, 0xd0 | (r(2) << 3) | d]; // NOT/NEG r32
    case 16: return [r(2) ? 0x88 : 0x8a, 0xc0 | (r(8) << 3) | r(8)]; // MOV r8, r8
    case 17: return [r(2) ? 0x88 : 0x8a, ...mem(r, r(8))]; // MOV byte [mem] / r8
    case 18: return [0x66, r(2) ? 0x89 : 0x8b, ...mem(r, d)]; // MOV word [mem] / r16
    case 19: return r(2) ? [0xc7, ...mem(r, 0), ...imm32(VALUES[r(VALUES.length)])] : [0xc6, ...mem(r, 0), r(256)]; // MOV [mem], imm
    case 20: return [0x0f, r(2) ? 0xb7 : 0xbf, ...mem(r, d)]; // MOVZX/MOVSX r, word [mem]
    case 21: return [0x0f, 0x90 + r(16), ...mem(r, 0)]; // SETcc byte [mem]
    case 22: return [0x0f, 0x40 + r(16), ...mem(r, d)]; // CMOVcc r, [mem]
    case 23: return [0xeb, 0x01, 0xc3, 0xe8, ...imm32(-6)]; // JMP over a RET; CALL it (it returns past the CALL)
    case 24: return [0xe8, ...imm32(0), 0x58 + d]; // CALL to the next instruction; POP r (the return address)
    case 25: return [0x50, 0xeb, 0x03, 0xc2, 0x04, 0x00, 0xe8, ...imm32(-8)]; // PUSH EAX; JMP over a RET 4; CALL it
    case 26: return [0xd3, ...mem(r, [4, 5, 6, 7][r(4)])]; // SHL/SHR/SAL/SAR [mem] by CL (a count of 0 too)
    case 27: { // SHL/SHR/SAL/SAR r/m16 by 1 or imm8 (past the width too), byte [mem] by imm8
      const k = [4, 5, 6, 7][r(4)], rm = r(2) ? [0xc0 | (k << 3) | d] : mem(r, k);
      return r(4) === 0 ? [0xc0, ...mem(r, k), r(12)] : r(3) ? [0x66, 0xc1, ...rm, r(20)] : [0x66, 0xd1, ...rm];
    }
    case 28: { // MOV AL/AX/EAX, moffs and back (aligned and not)
      const sz = r(3);
      return [...(sz === 2 ? [0x66] : []), 0xa0 + (sz ? 1 : 0) + (r(2) ? 2 : 0), ...imm32(DATA - 8 + r(72))];
    }
    case 29: return [0xff, ...mem(r, 6), 0x58 + d]; // PUSH dword [mem]; POP r
    case 30: return [0x55, 0x89, 0xe5, 0x50 + s, 0xc9]; // PUSH EBP; MOV EBP, ESP; PUSH r; LEAVE
    case 31: return [[0x90], [0x66, 0x90], [0xf3, 0x90], [0x0f, 0x1f, 0x44, 0x00, 0x00], [0x0f, 0x1f, 0x00]][r(5)]; // NOP forms
    default: return [0xb0 + r(8), r(256)]; // MOV r8, imm8
  }
}

/** A counted loop on ECX whose last instruction jumps back to the loop head (LOOP, or DEC ECX; JNZ): a self-looping block. */
function randomLoop(r: (n: number) => number): number[] {
  const body: number[] = [];
  const n = 1 + r(4);
  for (let k = 0; k < n; k++) {
    let ins: number[];
    do ins = r(2) ? randomInsn(r) : randomInsn2(r); while (touchesEcx(ins));
    body.push(...ins);
  }
  const tail = r(2) ? [0xe2] : [0x49, 0x75];
  const rel = -(body.length + tail.length + 1);
  return [0xb9, ...imm32(1 + r(30)), ...body, ...tail, rel & 0xff];
}
/** Conservative: an instruction whose ModRM names ECX/CL/CH (reg or rm), or a one-byte form on ECX, or a Jcc (its offset would be off). */
function touchesEcx(ins: number[]): boolean {
  let k = 0;
  while (ins[k] === 0x66) k++;
  const op = ins[k];
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0x50 && op <= 0x5f) || op === 0xe8) return true; // CALL: CALL +0; POP r may pop into ECX
  if (op === 0x41 || op === 0x49 || op === 0xb9 || op === 0xb1 || op === 0xb5 || op === 0x51 || op === 0x59 || op === 0x50 + 1) return true;
  if (op === 0xd3 || op === 0xd2) return true; // count in CL is fine, but keep loop lengths predictable
  if (op === 0xf7 && ((ins[k + 1] >> 3) & 7) >= 4) return true; // MUL/IMUL write EDX:EAX only, but keep it simple
  if (op === 0xff && ((ins[k + 1] >> 3) & 7) === 6) return true; // PUSH [mem]; POP r may pop into ECX
  if (op >= 0xa0 && op <= 0xa3) return false; // MOV moffs: EAX and memory only (no ModRM)
  const modrm = op === 0x0f ? ins[k + 2] : ins[k + 1];
  if (modrm === undefined) return false;
  return ((modrm >> 3) & 7) === 1 || ((modrm >> 3) & 7) === 5 || (modrm >> 6 === 3 && ((modrm & 7) === 1 || (modrm & 7) === 5));
}

/**
 * Identity paging over the first 4 MiB (4 KiB pages), with the data pages' dirty bits
 * clear: the first write to each takes the page walk (setting D), later ones the TLB.
 */
function enablePaging(h: Harness): void {
  const PD = 0x30000, PT = 0x31000;
  h.w32(PD, PT | 0x27);
  for (let p = 0; p < 1024; p++) h.w32(PT + 4 * p, (p << 12) | 0x27 | (p === 0x1f || p === 0x20 ? 0 : 0x40));
  h.cpu.loadCr3(PD);
  h.cpu.cr0 |= 0x80000000;
  h.cpu.pagingChanged();
  h.cpu.flushTlb(true);
}

function snapshot(h: Harness): Record<string, number> {
  const c = h.cpu;
  const o: Record<string, number> = { eip: c.eip, icount: c.icount, eflags: c.getEflags(), halted: c.halted ? 1 : 0 };
  for (let k = 0; k < 8; k++) o[`r${k}`] = c.r32[k] >>> 0;
  for (let a = DATA - 16; a < DATA + 256; a += 4) o[`m${(a - DATA).toString(16)}`] = h.r32(a);
  // With paging (enablePaging): the data pages' PTEs, whose accessed and dirty bits the walks set.
  o.pte1f = h.r32(0x31000 + 4 * 0x1f);
  o.pte20 = h.r32(0x31000 + 4 * 0x20);
  return o;
}

describe('blocks and compiled blocks agree with the plain interpreter', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]) {
    it(`random program, seed ${seed}`, () => {
      const r = rng(seed * 104729);
      const code: number[] = [];
      // Seeds 1-12: the first round's menu; 13-24: the second round's kinds and counted loops mixed in; 19-24 with paging on.
      for (let k = 0; k < 300; k++) code.push(...(seed <= 12 ? randomInsn(r) : r(12) === 0 ? randomLoop(r) : r(2) ? randomInsn2(r) : randomInsn(r)));
      const names = [...Object.keys(MODES), ...Object.keys(EXTRA)];
      const hs = [...Object.values(MODES), ...Object.values(EXTRA)].map((o) => new Harness(1, o).flat32([0xf4]));
      for (const h of hs) {
        h.prepare(code, { 6: DATA });
        for (let a = -16; a < 256; a += 4) h.w32(DATA + a, VALUES[((a + 16) >> 2) % VALUES.length] ^ (a * 0x01010101));
        h.cpu.setEflags((seed & 1) | 2);
        if (seed > 18) enablePaging(h);
      }
      for (let chunk = 0; chunk < 4000 && !hs[0].cpu.halted; chunk++) {
        // Mostly budgets longer than blocks (so blocks and loops run whole), some that end inside them.
        const budget = 1 + r(r(3) === 0 ? 8 : r(2) ? 64 : 400);
        const exits = hs.map((h) => h.run(budget));
        const ref = snapshot(hs[0]);
        for (let m = 1; m < hs.length; m++) {
          expect(exits[m], `chunk ${chunk} ${names[m]}`).toBe(exits[0]);
          expect(snapshot(hs[m]), `chunk ${chunk} ${names[m]}`).toEqual(ref);
        }
      }
      expect(hs[0].cpu.halted).toBe(true);
      expect(hs[0].faultVector()).toBe(-1);
      expect(hs[2].cpu.statCompiledBlocks).toBeGreaterThan(2);
    });
  }
});

function each(fn: (h: Harness, mode: string) => void): void {
  for (const [mode, o] of Object.entries(MODES)) fn(new Harness(1, o).flat32([0xf4]), mode);
}

/**
 * One case of the shift tests: mov eax, v | <pre> | mov ebx, b | mov edx, d | mov [esi], eax |
 * cmp ebx, edx (a producer: its flags stay where the shift changes none) | <shift> | pushfd |
 * pop [edi] | mov [edi+4], eax | mov ecx, [esi] | mov [edi+8], ecx | add edi, 12.
 */
function shiftCase(v: number, b: number, d: number, shift: number[], pre: number[] = []): number[] {
  return [0xb8, ...imm32(v), ...pre, 0xbb, ...imm32(b), 0xba, ...imm32(d), 0x89, 0x06, 0x39, 0xd3,
    ...shift, 0x9c, 0x8f, 0x07, 0x89, 0x47, 0x04, 0x8b, 0x0e, 0x89, 0x4f, 0x08, 0x83, 0xc7, 0x0c];
}

/** Runs a program of n shiftCase cases in every executor: per executor, its icount and the 3n recorded dwords. */
function shiftRecords(code: number[], n: number): number[][] {
  const out: number[][] = [];
  each((h) => {
    h.prepare(code, { 6: DATA, 7: DATA + 0x1000 });
    h.runToHalt(1_000_000);
    const rec: number[] = [h.cpu.icount];
    for (let k = 0; k < n * 3; k++) rec.push(h.r32(DATA + 0x1000 + 4 * k));
    out.push(rec);
  });
  return out;
}

describe('block corners (interp, blocks, compiled)', () => {
  it('memory operands at offsets of 2^31 and more reach the same bytes on the fast and slow paths (offsets wrap modulo 2^32)', () => {
    // GS: base 2^31, the full offset range, so offset DATA + 2^31 + x is linear DATA + x.
    // mov eax, gs:[ebx] | mov gs:[ebx+8], ecx | add gs:[ebx+16], ecx | mov edx, gs:[ebx+16] (EBX unaligned: slow paths)
    // mov edi, gs:[esi] | mov gs:[esi+4], ecx | push ecx (ESI aligned: fast paths) | pop ebp
    const code = [0x65, 0x8b, 0x03, 0x65, 0x89, 0x4b, 0x08, 0x65, 0x01, 0x4b, 0x10, 0x65, 0x8b, 0x53, 0x10,
      0x65, 0x8b, 0x3e, 0x65, 0x89, 0x4e, 0x04, 0x51, 0x5d];
    const out: unknown[][] = [];
    each((h, mode) => {
      h.setSeg(GS, 0x80000000, 0xffffffff);
      for (let k = 0; k < 0x40; k++) h.w8(DATA + k, (0x91 + 7 * k) & 0xff);
      h.exec(code, { 1: 0xfedcba98, 3: (DATA + 0x80000001) >>> 0, 6: (DATA + 0x80000020) >>> 0 });
      out.push([mode, h.eax, h.edx, h.cpu.r32[7] >>> 0, h.cpu.r32[5] >>> 0, h.r32(DATA + 9), h.r32(DATA + 17), h.r32(DATA + 0x24), h.cpu.getEflags(), h.cpu.icount]);
    });
    const r32 = (k: number): number => [0, 1, 2, 3].reduce((v, j) => v + (((0x91 + 7 * (k + j)) & 0xff) * 2 ** (8 * j)), 0);
    const [a, b, c] = out;
    expect(a.slice(1, 8)).toEqual([r32(1), (r32(17) + 0xfedcba98) % 2 ** 32, r32(0x20), 0xfedcba98, 0xfedcba98, (r32(17) + 0xfedcba98) % 2 ** 32, 0xfedcba98]);
    expect(b.slice(1), 'blocks').toEqual(a.slice(1));
    expect(c.slice(1), 'jit').toEqual(a.slice(1));
  });

  it('self-modifying code inside the running block is seen by the next instruction', () => {
    each((h, mode) => {
      // 0: mov [CODE+15], eax (a store the compiler writes out) | 6: mov byte [CODE+20], 0x42 (the handler's store)
      // 13: nop | 14: mov ecx, 0x11111111 (imm at 15) | 19: mov edx, 0x22222222 (imm at 20) | 24: hlt
      const code = [0x89, 0x05, ...imm32(CODE + 15), 0xc6, 0x05, ...imm32(CODE + 20), 0x42, 0x90, 0xb9, 0x11, 0x11, 0x11, 0x11, 0xba, 0x22, 0x22, 0x22, 0x22];
      h.exec(code, { 0: 0x99 });
      expect(h.ecx, mode).toBe(0x99);
      expect(h.edx, mode).toBe(0x22222242);
      if (mode !== 'interp') expect(h.cpu.mmuStats().code.invalidations, mode).toBeGreaterThan(0);
    });
  });

  it('an aligned store (the typed-array fast path) into decoded code inside the running block is seen', () => {
    each((h, mode) => {
      // 0: mov [CODE+16], eax | 6: nop x9 | 15: mov ecx, 0x11111111 (imm at 16, aligned) | 20: hlt
      const code = [0x89, 0x05, ...imm32(CODE + 16), ...Array(9).fill(0x90), 0xb9, 0x11, 0x11, 0x11, 0x11];
      h.prepare(code, { 0: 0x99 });
      h.run(1000); // compiled mode: the block is compiled on its first run, before the store
      expect(h.cpu.halted, mode).toBe(true);
      expect(h.ecx, mode).toBe(0x99);
    });
  });

  it('a fault in the middle of a block leaves the state of the faulting instruction (read and write)', () => {
    for (const op of [0x8b, 0x89]) {
      const counts: number[] = [];
      each((h, mode) => {
        h.setSeg(GS, 0, 0xff);
        // mov eax,1; mov ebx,2; mov ecx,gs:[0x100] (or the store); mov edx,3; hlt
        const code = [0xb8, ...imm32(1), 0xbb, ...imm32(2), 0x65, op, 0x0d, ...imm32(0x100), 0xba, ...imm32(3)];
        h.prepare(code, { 1: 7 });
        const f = h.runToFault();
        expect(f.vector, mode).toBe(13);
        expect(f.eip, mode).toBe(CODE + 10);
        expect([h.eax, h.ebx, h.ecx, h.edx], mode).toEqual([1, 2, 7, 0]);
        counts.push(h.cpu.icount);
      });
      expect(new Set(counts).size).toBe(1);
    }
  });

  it('STI and MOV SS shadows: the interrupt comes after the shadowed instruction', () => {
    const seen: number[][] = [];
    each((h, mode) => {
      let pending = false;
      h.cpu.intr = { pending: () => pending, ack: () => { pending = false; return 0x40; } };
      h.io.ioWrite = () => { pending = true; };
      // out 0x80,al (raises INTR with IF=0); sti; mov ss,ax; inc ebx x3; hlt
      h.prepare([0xe6, 0x80, 0xfb, 0x8e, 0xd0, 0x43, 0x43, 0x43], { 0: 0x10 });
      const f = h.runToFault();
      expect(f.vector, mode).toBe(0x40);
      seen.push([h.ebx, f.eip, h.cpu.icount]);
    });
    expect(seen[0][0]).toBe(1); // STI shadows MOV SS, MOV SS shadows the first INC
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });

  it('an MMIO write that raises an interrupt is answered right after the writing instruction', () => {
    const seen: number[][] = [];
    each((h, mode) => {
      let pending = false;
      h.cpu.intr = { pending: () => pending, ack: () => { pending = false; return 0x41; } };
      h.mem.mmio = { mmioRead: () => 0, mmioWrite: () => { pending = true; } };
      // mov [0x200000], eax (above RAM: MMIO); inc ebx x3; hlt — with IF=1
      h.prepare([0x89, 0x05, ...imm32(0x200000), 0x43, 0x43, 0x43], {}, 0x200);
      const f = h.runToFault();
      expect(f.vector, mode).toBe(0x41);
      seen.push([h.ebx, f.eip, h.cpu.icount]);
    });
    expect(seen[0]).toEqual([0, CODE + 6, 2]); // the store, then the handler's HLT
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });

  it('compiled reads of MMIO frames reach the device (TLB_RAM), paging off and on, while RAM operands stay inline', () => {
    // Run twice (the second pass through the compiled region): mov eax, [0x200000] |
    // movzx ebx, word [0x200012] | movzx edi, byte [0x200021] | add [0x200030], eax (read
    // and write the device) | mov edx, [DATA] | add edx, [0x200040] | dec ecx | jnz back.
    const body = [0x8b, 0x05, ...imm32(0x200000), 0x0f, 0xb7, 0x1d, ...imm32(0x200012), 0x0f, 0xb6, 0x3d, ...imm32(0x200021),
      0x01, 0x05, ...imm32(0x200030), 0x8b, 0x15, ...imm32(DATA), 0x03, 0x15, ...imm32(0x200040)];
    const code = [...body, 0x49, 0x75, -(body.length + 3) & 0xff];
    for (const paging of [false, true]) {
      const seen: unknown[] = [];
      each((h, mode) => {
        const log: string[] = [];
        h.mem.mmio = {
          mmioRead: (a, size) => { log.push(`r${size}@${a.toString(16)}`); return ((a * 0x01010101) ^ 0x5a5a5a5a) & (size === 4 ? -1 : (1 << (8 * size)) - 1); },
          mmioWrite: (a, size, v) => { log.push(`w${size}@${a.toString(16)}=${(v >>> 0).toString(16)}`); },
        };
        if (paging) enablePaging(h);
        h.w32(DATA, 0x1234);
        h.prepare(code, { 1: 2 });
        // The RAM operand takes the accessor (the slow path) at most once: a first TLB miss.
        const cpu = h.cpu as unknown as { fr32(seg: number, off: number, ...rest: number[]): number };
        const fr32 = cpu.fr32.bind(cpu);
        let ramSlow = 0;
        cpu.fr32 = (seg, off, ...rest) => { if (off === DATA) ramSlow++; return fr32(seg, off, ...rest); };
        h.runToHalt(10_000);
        expect(h.cpu.halted, mode).toBe(true);
        // (With the TLB switched off — TS86_FASTPATHS — every paged access walks, through the accessor.)
        const tlbOn = (h.cpu as unknown as { tlbEnabled: boolean }).tlbEnabled;
        if (mode === 'jit') expect(ramSlow, `paging ${paging}`).toBeLessThanOrEqual(!paging ? 0 : tlbOn ? 1 : 2);
        seen.push([h.eax, h.ebx, h.edi, h.edx, log.join(' ')]);
      });
      const a = ((0x200000 * 0x01010101) ^ 0x5a5a5a5a) >>> 0;
      expect(seen[0]).toEqual([a, ((0x200012 * 0x01010101) ^ 0x5a5a5a5a) & 0xffff, ((0x200021 * 0x01010101) ^ 0x5a5a5a5a) & 0xff,
        (0x1234 + ((0x200040 * 0x01010101) ^ 0x5a5a5a5a)) >>> 0, expect.stringContaining(`w4@200030=${((a + (((0x200030 * 0x01010101) ^ 0x5a5a5a5a) >>> 0)) >>> 0).toString(16)}`)]);
      expect((seen[0] as string[])[4].split(' ')).toHaveLength(12); // 6 device accesses per pass (the ADD reads and writes), 2 passes
      expect(seen[1], `blocks, paging ${paging}`).toEqual(seen[0]);
      expect(seen[2], `compiled, paging ${paging}`).toEqual(seen[0]);
    }
  });

  it('blocks are not chained past port I/O or an MMIO access: an interrupt they raise comes right after them', () => {
    for (const viaMmio of [false, true]) {
      const seen: number[][] = [];
      each((h, mode) => {
        let pending = false, n = 0;
        h.cpu.intr = { pending: () => pending, ack: () => { pending = false; return 0x42; } };
        h.io.ioWrite = () => { if (++n === 5) pending = true; };
        h.mem.mmio = { mmioRead: () => { if (++n === 5) pending = true; return 0; }, mmioWrite: () => {} };
        // L: inc ebx | out 0x80, al (or mov edx, [0x200000]: MMIO) | inc ecx | jmp L   — with IF=1
        const access = viaMmio ? [0x8b, 0x15, ...imm32(0x200000)] : [0xe6, 0x80];
        const code = [0x43, ...access, 0x41, 0xeb, (-(1 + access.length + 3)) & 0xff];
        h.prepare(code, {}, 0x200);
        const f = h.runToFault();
        expect(f.vector, mode).toBe(0x42);
        seen.push([h.ebx, h.ecx, f.eip, h.cpu.icount]);
      });
      expect(seen[0].slice(0, 2), String(viaMmio)).toEqual([5, 4]);
      expect(seen[1], String(viaMmio)).toEqual(seen[0]);
      expect(seen[2], String(viaMmio)).toEqual(seen[0]);
    }
  });

  it('a budget that ends inside a block stops at exactly that instruction', () => {
    each((h, mode) => {
      h.prepare([0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40]);
      h.run(1); // builds (and, compiled, compiles) the block
      h.run(3);
      expect([h.cpu.icount, h.cpu.eip, h.eax], mode).toEqual([4, CODE + 4, 4]);
      h.run(100);
      expect([h.eax, h.cpu.halted], mode).toEqual([8, true]);
    });
  });

  it('TF traps after every instruction of what would be a block', () => {
    each((h, mode) => {
      h.prepare([0x40, 0x40, 0x40], {}, 0x100);
      // Warm the block first with TF clear so a compiled form exists.
      const f = h.runToFault();
      expect([f.vector, f.eip, h.eax], mode).toEqual([1, CODE + 1, 1]);
    });
  });

  it('a block that jumps back to itself loops inside the compiled function, stopping exactly at the budget', () => {
    const seen: number[][] = [];
    each((h, mode) => {
      // mov ecx, 1000 | L: add eax, ecx; adc edx, 0; loop L | hlt
      h.prepare([0xb9, ...imm32(1000), 0x01, 0xc8, 0x83, 0xd2, 0x00, 0xe2, 0xf9], { 0: 0xfffff000 });
      for (const budget of [1, 7, 100, 2, 1000, 3]) { h.run(budget); seen.push([mode.length, h.cpu.icount, h.cpu.eip, h.eax, h.edx, h.ecx, h.cpu.getEflags()]); }
      h.run(10_000);
      expect([h.cpu.halted, h.ecx, h.eax, h.edx], mode).toEqual([true, 0, (0xfffff000 + 500500) >>> 0, 1]);
      if (mode === 'jit') {
        const b = [...Array(3).keys()].map(() => null);
        void b;
        expect(h.cpu.statCompiled, mode).toBeGreaterThan(0);
      }
    });
    const per = seen.length / Object.keys(MODES).length;
    for (let k = 0; k < per; k++) {
      expect(seen[per + k].slice(1), `blocks, stop ${k}`).toEqual(seen[k].slice(1));
      expect(seen[2 * per + k].slice(1), `jit, stop ${k}`).toEqual(seen[k].slice(1));
      expect(seen[3 * per + k].slice(1), `wasm, stop ${k}`).toEqual(seen[k].slice(1));
    }
  });

  it('the region function is a parenthesised expression of its factory, so V8 compiles it eagerly (no pre-parse, then a second parse on the first call)', async () => {
    const { compileBlock } = await import('../../src/cpu/jit');
    const h = new Harness(1, MODES.blocks).flat32([0xf4]);
    h.exec([0x40, 0x01, 0xd8]);
    h.cpu.eip = CODE;
    const b = blockAtEip(h);
    const Orig = globalThis.Function;
    const sources: string[] = [];
    globalThis.Function = new Proxy(Orig, { construct(t, args: string[]) { sources.push(args[args.length - 1]); return Reflect.construct(t, args) as object; } });
    try {
      compileBlock(b);
    } finally {
      globalThis.Function = Orig;
    }
    expect(sources).toHaveLength(1);
    expect(sources[0]).toMatch(/^"use strict";\nreturn \(function region_[0-9a-f]+_\d+\(cpu, end\) \{\n/);
    expect(sources[0]).toMatch(/\n\}\);$/);
  });

  it('the compiled form of a self-looping block is a loop, and a Jcc inside a block is a side exit', async () => {
    const { compileBlock, blockSource } = await import('../../src/cpu/jit');
    const h = new Harness(1, MODES.blocks).flat32([0xf4]);
    // L: cmp eax, 5 | ja +2 | inc eax | inc eax | dec ecx | jnz L | hlt
    h.prepare([0x83, 0xf8, 0x05, 0x77, 0x02, 0x40, 0x40, 0x49, 0x75, 0xf6], { 1: 4 });
    h.run(1000);
    expect(h.cpu.halted).toBe(true);
    expect([h.eax, h.ecx]).toEqual([6, 0]); // 0 -> 2 -> 4 -> 6, then the side exit skips the increments
    h.cpu.eip = CODE;
    const b = blockAtEip(h);
    expect(b.insns.length).toBe(7); // the JNZ back to L is a side exit here: the block goes on to the HLT
    const src = blockSource(compileBlock(b));
    expect(src).toContain('for (;;)');
    expect(src).toContain('pc = 0; continue;'); // the JNZ back to L (page offset 0) stays in the function
    expect(src).toMatch(/cpu\.eip = t; cpu\.icount = c0 \+ 2; return true;/); // the JA leaves it
  });

  it('a fault on a memory operand mid-block leaves identical state for every compiled instruction kind', () => {
    // Each: mov eax,1 | add ebx, ecx (a flag producer) | <gs: kind> | mov edx,3 | hlt; GS limit 0xff, offset 0x100 faults (#GP).
    const KINDS: number[][] = [
      [0x01, 0x0d], [0x83, 0x05], [0x81, 0x3d], [0x11, 0x0d], [0x19, 0x0d], [0x00, 0x0d], [0xf7, 0x25], [0xf7, 0x1d], [0xff, 0x05],
      [0xfe, 0x0d], [0xc1, 0x25], [0xd1, 0x3d], [0xd3, 0x05], [0x0f, 0xb6, 0x0d], [0x0f, 0xbf, 0x0d], [0x0f, 0x94, 0x05], [0x0f, 0x42, 0x0d],
      [0x66, 0x89, 0x0d], [0x88, 0x2d], [0xc7, 0x05], [0x84, 0x0d], [0x3b, 0x0d],
      [0xa1], [0xa3], [0xa0], [0x66, 0xa3], [0xff, 0x35], // MOV moffs both ways (offset 0x100), PUSH dword gs:[0x100]
    ];
    for (const kind of KINDS) {
      const out: unknown[] = [];
      each((h, mode) => {
        h.setSeg(GS, 0, 0xff);
        const tail = kind[0] === 0x83 || kind[0] === 0xc1 ? [0x07] : kind[0] === 0x81 || kind[0] === 0xc7 ? imm32(0x1234) : [];
        const code = [0xb8, ...imm32(1), 0x01, 0xcb, 0x65, ...kind, ...imm32(0x100), ...tail, 0xba, ...imm32(3)];
        h.prepare(code, { 1: 0xffffffff, 3: 5 });
        const f = h.runToFault();
        out.push([mode, f.vector, f.eip, h.eax, h.ebx, h.ecx, h.edx, h.cpu.getEflags(), h.cpu.icount]);
      });
      const [a, b, c] = out as unknown[][];
      expect(a[1], kind.join(',')).toBe(13);
      expect(b.slice(1), kind.join(',')).toEqual(a.slice(1));
      expect(c.slice(1), kind.join(',')).toEqual(a.slice(1));
    }
  });

  it('NOPs, MOV moffs, PUSH r/m32 and LEAVE compile inline and agree with the interpreter (FS base, unaligned, ESP-relative)', async () => {
    // add ebx, ecx (a producer whose flags stay deferred) | 66 90 | F3 90 | 0F 1F 44 00 00 | mov eax, [DATA] | mov ax, fs:[3] |
    // mov al, [DATA+5] | mov [DATA+0x11], eax (unaligned: slow path) | mov fs:[8], eax | mov [DATA+0x20], al |
    // push dword [esi] | push dword [esp+4] (read before ESP moves) | pop edx | pop edi | push ebp | mov ebp, esp |
    // push 0x1234 | leave | pushfd | pop [DATA+0x30] | hlt
    const code = [0x01, 0xcb, 0x66, 0x90, 0xf3, 0x90, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xa1, ...imm32(DATA), 0x64, 0x66, 0xa1, ...imm32(3),
      0xa0, ...imm32(DATA + 5), 0xa3, ...imm32(DATA + 0x11), 0x64, 0xa3, ...imm32(8), 0xa2, ...imm32(DATA + 0x20),
      0xff, 0x36, 0xff, 0x74, 0x24, 0x04, 0x5a, 0x5f, 0x55, 0x89, 0xe5, 0x68, ...imm32(0x1234), 0xc9, 0x9c, 0x8f, 0x05, ...imm32(DATA + 0x30)];
    const out: unknown[][] = [];
    each((h, mode) => {
      h.setSeg(4, DATA + 0x40, 0xffffffff); // FS: base DATA+0x40, full range
      for (let k = 0; k < 0x60; k++) h.w8(DATA + k, (0x31 + 11 * k) & 0xff);
      h.prepare(code, { 1: 0x80000000, 3: 0x80000000, 5: 0x5a5a5a5a, 6: DATA + 0x50, 4: STACK_TOP - 0x100 });
      const sp0 = h.cpu.r32[4] >>> 0;
      h.w32(sp0, 0xc0ffee11);
      h.runToHalt();
      const mem: number[] = [];
      for (let a = 0; a < 0x60; a += 4) mem.push(h.r32(DATA + a));
      out.push([mode, h.eax, h.edx, h.edi, h.cpu.r32[5] >>> 0, (h.cpu.r32[4] >>> 0) - sp0, h.r32(DATA + 0x30), h.cpu.icount, ...mem]);
    });
    const [a, b, c] = out;
    const r32 = (k: number): number => [0, 1, 2, 3].reduce((v, j) => v + (((0x31 + 11 * (k + j)) & 0xff) * 2 ** (8 * j)), 0);
    // Spot checks from the SDM's definitions: PUSH [ESP+4] pushes the dword above the one PUSH [ESI] pushed
    // (the caller's stack), LEAVE restores EBP and ESP, the flags are the ADD's (CF, ZF, PF, OF set).
    expect(a[2], 'EDX = [esp+4] before the push').toBe(0xc0ffee11);
    expect(a[3], 'EDI = [esi]').toBe(r32(0x50));
    expect(a[4], 'EBP restored by LEAVE').toBe(0x5a5a5a5a);
    expect(a[5], 'ESP back where it started').toBe(0);
    expect((a[6] as number) & 0x8c5, 'CF ZF PF OF from the ADD').toBe(0x845);
    expect(b.slice(1), 'blocks').toEqual(a.slice(1));
    expect(c.slice(1), 'jit').toEqual(a.slice(1));
    // The compiled block calls no handler for them: NOPs are empty, the others write out their accesses.
    const src = await compiledSource([0x66, 0x90, 0x0f, 0x1f, 0x00, 0xa1, ...imm32(DATA), 0xa2, ...imm32(DATA + 4), 0xff, 0x36, 0x5a, 0x55, 0x89, 0xe5, 0xc9]);
    const lines = src.split('\n');
    const line = (k: number): string => lines.find((l) => l.endsWith(`// ${k}: ${['nop', 'nop', 'mov', 'mov', 'push', 'pop', 'push', 'mov', 'leave'][k]}`)) ?? `no line ${k}`;
    expect(line(0).replace(/\/\/.*/, '').trim(), 'nop').toBe('');
    expect(line(1).replace(/\/\/.*/, '').trim(), 'nop Ev').toBe('');
    for (const k of [2, 3]) expect(line(k), `moffs ${k}`).not.toContain('startEip');
    expect(line(2)).toContain(`(${DATA})`);
    expect(line(4), 'push [esi]').toMatch(/^\s*if \(st32\) \{ const o4 = /);
    expect(line(8), 'leave').toMatch(/^\s*if \(st32 && \(cpu\.cr0 & 1\) !== 0\) \{ const o8 = r\[5\], p8 = /);
  });

  it('LEAVE with EBP past the SS limit faults (#SS) with ESP and EBP unchanged in every executor', () => {
    const out: unknown[][] = [];
    each((h, mode) => {
      // add eax, ebx | mov ebp, 0x200000 | leave | hlt, SS limited to 1 MiB.
      h.prepare([0x01, 0xd8, 0xbd, ...imm32(0x200000), 0xc9], { 0: 1, 3: 2 });
      h.setSeg(2, 0, 0xfffff);
      const sp0 = h.cpu.r32[4] >>> 0;
      const f = h.runToFault();
      out.push([mode, f.vector, f.err, f.eip, h.cpu.r32[5] >>> 0, sp0 - (h.cpu.r32[4] >>> 0), h.eax, h.cpu.icount]);
    });
    const [a, b, c] = out;
    // #SS(0) at the LEAVE (CODE + 7), EBP as it was, ESP lowered only by the exception frame (error code, EIP, CS, EFLAGS).
    expect(a.slice(1, 6)).toEqual([12, 0, CODE + 7, 0x200000, 16]);
    expect(b.slice(1)).toEqual(a.slice(1));
    expect(c.slice(1)).toEqual(a.slice(1));
  });

  it('deferred flags of an earlier producer never overwrite the flags a read-modify-write set before its write took the slow path', () => {
    // add ebx, ecx (its flag stores deferred) | <kind> [esi] | pushfd | pop edx | hlt, the operand on the code's own
    // page: the read takes the fast path, the write the slow one (the page holds decoded code), after the
    // operation has stored its flags.
    const KINDS: number[][] = [[0xf7, 0x1e], [0xd1, 0x26], [0xd1, 0x3e], [0x66, 0x11, 0x1e], [0x10, 0x1e], [0xfe, 0x06], [0xff, 0x0e], [0x01, 0x1e], [0x29, 0x1e]];
    for (const kind of KINDS) {
      const out: unknown[] = [];
      each((h, mode) => {
        h.prepare([0x01, 0xcb, ...kind, 0x9c, 0x5a], { 1: 0x7fffffff, 3: 1, 6: CODE + 0x800 });
        h.w32(CODE + 0x800, 0x80000000);
        h.runToHalt();
        out.push([mode, h.edx, h.r32(CODE + 0x800), h.ebx, h.cpu.icount]);
      });
      const [a, b, c] = out as unknown[][];
      expect(b.slice(1), kind.join(',')).toEqual(a.slice(1));
      expect(c.slice(1), kind.join(',')).toEqual(a.slice(1));
    }
  });

  it('a SAR, IMUL or MUL whose flag stores are dead still clears the raw AF bit that a later SHL keeps', () => {
    // The interpreter: SAR/IMUL/MUL store their flags with AF cleared in cpu.flags; the OR's
    // lazy flags hide that bit; the SHL's (undefined) AF is the raw bit. The compiled block
    // drops the first producer's stores as dead (the OR replaces them) but not the clearing.
    for (const first of [[0xd1, 0xf8], [0x0f, 0xaf, 0xc3], [0xf7, 0xe3], [0x6b, 0xc3, 0x07]]) {
      const out: unknown[] = [];
      each((h) => {
        h.prepare([...first, 0x09, 0xd1, 0xd1, 0xe2, 0xeb, 0x00], { 0: 0x40000001, 3: 0x12345, 2: 0x81 });
        h.cpu.setEflags(0x8d5 | 2);
        h.runToHalt();
        out.push([h.cpu.getEflags(), h.edx, h.eax]);
      });
      expect(out[1], first.map((x) => x.toString(16)).join(' ')).toEqual(out[0]);
      expect(out[2], first.map((x) => x.toString(16)).join(' ')).toEqual(out[0]);
      expect((out[0] as number[])[0] & 0x10, 'AF after the SHL').toBe(0);
    }
  });

  it('a rotate keeps the flags of the producer before it (its CF/OF stores follow the deferred ones)', () => {
    // add eax, ebx | rol/ror ecx, n | pushfd | pop esi | adc edx, 0 | setc bl | hlt: SF/ZF/PF/AF come from the ADD,
    // CF/OF from the rotate; the ADC after reads that CF.
    for (const [rot, n] of [[0, 1], [1, 1], [0, 7], [1, 31]]) {
      const out: unknown[] = [];
      each((h, mode) => {
        h.prepare([0x01, 0xd8, 0xc1, 0xc1 | (rot << 3), n, 0x9c, 0x5e, 0x83, 0xd2, 0x00, 0x0f, 0x92, 0xc3], { 0: 0x7fffffff, 3: 1, 1: 0x80000001 });
        h.runToHalt();
        out.push([mode, h.cpu.getEflags(), h.esi, h.ecx, h.edx, h.ebx, h.cpu.icount]);
      });
      const [a, b, c] = out as unknown[][];
      expect(b.slice(1), `${rot},${n}`).toEqual(a.slice(1));
      expect(c.slice(1), `${rot},${n}`).toEqual(a.slice(1));
    }
  });

  it('SHL/SHR/SAR r/m32 by CL compile inline: CF/OF/SF/ZF/PF as the interpreter, a count of 0 (mod 32) changes no flag', async () => {
    // Per case (shiftCase): mov ecx, count after mov eax, v; the shift of eax or [esi] by CL (the CMP's
    // flags stay when the count is 0) — one program, its records compared between executors.
    const VALS = [[0x80000001, 1, 2], [0x40000000, 5, 5], [0xffffffff, 0x80000000, 1], [1, 0, 0]];
    const COUNTS = [0, 1, 2, 7, 31, 32, 33, 0xe0];
    const code: number[] = [];
    let n = 0;
    for (const op of [4, 5, 6, 7]) {
      for (const memOp of [false, true]) {
        for (const count of COUNTS) {
          for (const [v, b, d] of VALS) {
            code.push(...shiftCase(v, b, d, [0xd3, (memOp ? 0x06 : 0xc0) | (op << 3)], [0xb9, ...imm32(count)]));
            n++;
          }
        }
      }
    }
    const out = shiftRecords(code, n);
    expect(out[0][0]).toBe(n * 13 + 1);
    expect(out[1]).toEqual(out[0]);
    expect(out[2]).toEqual(out[0]);
    // Written out: no call of the interpreter's shiftOp in the compiled block.
    expect(await compiledSource([0xd3, 0xe0, 0xd3, 0x2e, 0xd3, 0xf8], { 1: 3 })).not.toMatch(/k\d+\(cpu, \d, a\d/);
  });

  it('SHL/SHR/SAR r/m8 and r/m16 by a constant compile inline below the operand width; wider counts as the interpreter', async () => {
    // Per case (shiftCase): the shift of AL, AH, AX, byte [esi] or word [esi] by 1 (D0/D1) or imm8 (C0/C1).
    const VALS = [[0x80818001, 1, 2], [0x4000c040, 5, 5], [0xffffffff, 0x80000000, 1], [0x00017f01, 0, 0]];
    const forms: { s: number; rm: number; mem: boolean }[] = [
      { s: 1, rm: 0, mem: false }, { s: 1, rm: 4, mem: false }, { s: 1, rm: 6, mem: true },
      { s: 2, rm: 0, mem: false }, { s: 2, rm: 6, mem: true },
    ];
    const code: number[] = [];
    let n = 0;
    for (const op of [4, 5, 6, 7]) {
      for (const f of forms) {
        const bits = f.s * 8;
        for (const count of [1, -1, 2, bits - 1, bits, bits + 1, 31, 0x21]) {
          for (const [v, b, d] of VALS) {
            const modrm = (f.mem ? 0x06 : 0xc0 | f.rm) | (op << 3);
            const shift = [...(f.s === 2 ? [0x66] : []), ...(count === -1 ? [f.s === 1 ? 0xd0 : 0xd1, modrm] : [f.s === 1 ? 0xc0 : 0xc1, modrm, count])];
            code.push(...shiftCase(v, b, d, shift));
            n++;
          }
        }
      }
    }
    const out = shiftRecords(code, n);
    expect(out[0][0]).toBe(n * 12 + 1);
    expect(out[1]).toEqual(out[0]);
    expect(out[2]).toEqual(out[0]);
    // Spot checks against the SDM's definitions (Vol.2B SAL/SAR/SHL/SHR), from the
    // interpreter's records: case index = ((op - 4) * 5 + form) * 32 + countIndex * 4 + value.
    const rec = (op: number, form: number, ci: number, vi: number) => {
      const k = ((op - 4) * 5 + form) * 32 + ci * 4 + vi;
      return { fl: out[0][1 + 3 * k] & 0x8d5, eax: out[0][2 + 3 * k] >>> 0, mem: out[0][3 + 3 * k] >>> 0 };
    };
    // SAR AX (0x8001) by 15: 0xffff, CF = bit 14 = 0, SF set.
    expect(rec(7, 3, 3, 0)).toMatchObject({ eax: 0x8081ffff });
    expect(rec(7, 3, 3, 0).fl & 0x81).toBe(0x80);
    // SHR AH (0x80) by 7: 1, CF = bit 6 = 0; by 1 (D0): 0x40, OF = old top bit = 1.
    expect(rec(5, 1, 3, 0).eax).toBe(0x80810101);
    expect(rec(5, 1, 1, 0).eax).toBe(0x80814001);
    expect(rec(5, 1, 1, 0).fl & 0x801).toBe(0x800);
    // SHL word [esi] (0xc040) by 2: 0x0100, CF = bit 14 = 1.
    expect(rec(4, 4, 2, 1).mem).toBe(0x40000100);
    expect(rec(4, 4, 2, 1).fl & 1).toBe(1);
    // Written out: no call of the interpreter's shiftOp below the width; a 16-bit shift by 16 calls it.
    expect(await compiledSource([0xc0, 0xe0, 3, 0xc0, 0xec, 7, 0x66, 0xc1, 0xf8, 15, 0x66, 0xd1, 0x26, 0xd0, 0x3e])).not.toMatch(/k\d+\(cpu, \d, a\d/);
    expect(await compiledSource([0x66, 0xc1, 0xe0, 16])).toMatch(/k\d+\(cpu, 4, a\d/);
  });

  it('deferred lazy-flag stores are one call each (ALU: setLazy; INC/DEC: setLazyKeepCF), in slow paths too, and leave the same flags', async () => {
    // add eax, ebx | mov ecx, [esi] (its slow path carries the ADD's stores) | inc eax | mov edx, [esi+4] | hlt
    const code = [0x01, 0xd8, 0x8b, 0x0e, 0x40, 0x8b, 0x56, 0x04];
    const src = await compiledSource(code, { 0: -1, 3: 0 });
    expect(src).toMatch(/cpu\.setLazy\(0, a\d+, b\d+, x\d+, 4\)/);
    expect(src).toMatch(/cpu\.setLazyKeepCF\(0, a\d+, 1, x\d+, 4, cf\d+\)/);
    expect(src).not.toMatch(/cpu\.lfMask = /);
    // CF from the ADD (0xffffffff + 0 = no carry; + 1 below = carry) survives the INC; ZF/SF/OF/AF from the INC.
    const out: number[][] = [];
    for (const [a, b] of [[-1, 0], [-1, 1], [0x7fffffff, 0], [5, 6]]) {
      each((h) => {
        h.prepare(code, { 0: a, 3: b, 6: DATA });
        h.runToHalt();
        out.push([h.eax >>> 0, h.cpu.getEflags() & 0x8d5]);
      });
    }
    const N = Object.keys(MODES).length;
    for (let k = 0; k < out.length; k += N) for (let m = 1; m < N; m++) expect(out[k + m]).toEqual(out[k]);
    expect(out[N]).toEqual([1, 0x01]); // 0xffffffff + 1 = 0 (CF), inc -> 1: CF kept, the rest from the inc (all clear)
    expect(out[2 * N]).toEqual([0x80000000, 0x894]); // 0x7fffffff + 0, inc -> 0x80000000: OF SF AF PF, CF clear
  });

  it('a loop whose body spans two blocks runs inside one compiled region', () => {
    // L: test ecx,1 | jz S | add eax,ecx | S: add ebx,ecx | dec ecx | jnz L | hlt
    const code = [0xf7, 0xc1, ...imm32(1), 0x74, 0x02, 0x01, 0xc8, 0x01, 0xcb, 0x49, 0x75, 0xf1];
    const out: number[][] = [];
    for (const opts of [MODES.interp, MODES.jit, { ...MODES.jit, regions: false }]) {
      const h = new Harness(1, opts).flat32([0xf4]);
      h.prepare(code, { 1: 1000 });
      h.runToHalt(1_000_000);
      out.push([h.eax, h.ebx, h.ecx, h.cpu.icount, h.cpu.getEflags(), h.cpu.mmuStats().code.blockRuns]);
    }
    expect(out[0].slice(0, 2)).toEqual([250000, 500500]);
    expect(out[1].slice(0, 5)).toEqual(out[0].slice(0, 5));
    expect(out[2].slice(0, 5)).toEqual(out[0].slice(0, 5));
    // Regions: both halves of the body are cases of one function, so the 1000 iterations
    // take a handful of entries from the run loop; one block per function needs one per iteration or more.
    expect(out[1][5]).toBeLessThan(10);
    expect(out[2][5]).toBeGreaterThanOrEqual(1000);
  });

  it('a flag producer with a memory operand defers its flag stores; after a slow path that ends the function (MMIO) they are stored first', async () => {
    // Each line: a producer before (so INC knows CF), the memory producer on an MMIO frame
    // (the device reads as 0xffffffff: results 0, carries, signs), then HLT. The compiled
    // function returns after the device access; EFLAGS must be the memory producer's.
    const M = 0x200040;
    const forms: [string, number[]][] = [
      ['ADD [m], EAX', [0x01, 0x05, ...imm32(M)]],
      ['SUB EBX, [m]', [0x2b, 0x1d, ...imm32(M)]],
      ['CMP [m], imm8', [0x83, 0x3d, ...imm32(M), 0x05]],
      ['ADC [m], EAX', [0x11, 0x05, ...imm32(M)]],
      ['INC [m]', [0xff, 0x05, ...imm32(M)]],
      ['IMUL EDX, [m]', [0x0f, 0xaf, 0x15, ...imm32(M)]],
    ];
    for (const [name, insn] of forms) {
      const seen: number[][] = [];
      each((h, mode) => {
        const log: string[] = [];
        h.mem.mmio = { mmioRead: () => 0xffffffff, mmioWrite: (a, size, v) => { log.push(`${size}:${(v >>> 0).toString(16)}`); } };
        // cmp ecx, ebx (CF set: 1 < 2) | the form | hlt
        h.prepare([0x39, 0xd9, ...insn], { 0: 1, 1: 1, 2: 3, 3: 2 });
        h.runToHalt();
        seen.push([h.cpu.getEflags() & 0x8d5, h.eax, h.ebx, h.edx, log.length, mode.length]);
      });
      expect(seen[1].slice(0, 5), `blocks: ${name}`).toEqual(seen[0].slice(0, 5));
      expect(seen[2].slice(0, 5), `compiled: ${name}`).toEqual(seen[0].slice(0, 5));
    }
    // ADD [ESI], EAX; SUB EBX, ECX: the ADD's stores are dead on the fast path (SUB replaces
    // them) and appear only where its slow path returns.
    const src = await compiledSource([0x01, 0x06, 0x29, 0xcb]);
    expect(src.match(/cpu\.setLazy\(0, /g)).toHaveLength(1);
    expect(src).toMatch(/if \(cpu\.blockAbort \|\| m\.mmioHits !== mh\) \{ cpu\.setLazy\(0, a0, b0, x0, 4\); return false; \}/);
  });

  it('a CS limit inside the code page is checked at edges within the region: a jump past it is #GP(0) at the jump', () => {
    // L: inc eax | cmp eax, 3 | jne L | jmp +0x40 (same page, past the limit) ; CS limit CODE+0x20.
    const out: unknown[] = [];
    each((h, mode) => {
      h.setSeg(1, 0, CODE + 0x20, 0x80 | 0x10 | 0x0b | 0x4000, 0x08);
      h.prepare([0x40, 0x83, 0xf8, 0x03, 0x75, 0xfa, 0xeb, 0x40]);
      const f = h.runToFault();
      out.push([mode, f.vector, f.err, f.eip, h.eax, h.cpu.icount]);
    });
    const [a, b, c] = out as unknown[][];
    expect(a.slice(1, 5)).toEqual([13, 0, CODE + 6, 3]);
    expect(b.slice(1)).toEqual(a.slice(1));
    expect(c.slice(1)).toEqual(a.slice(1));
  });

  it('CALL rel32 and RET (compiled inline): a target past the CS limit is #GP(0) at the instruction with ESP unchanged', () => {
    // call +0x40 (past the limit) | ... ; push CODE+0x40; ret (to past the limit); CS limit CODE+0x20.
    for (const code of [[0xe8, ...imm32(0x40)], [0x68, ...imm32(CODE + 0x40), 0xc3]]) {
      const out: unknown[][] = [];
      each((h, mode) => {
        h.setSeg(1, 0, CODE + 0x20, 0x80 | 0x10 | 0x0b | 0x4000, 0x08);
        h.prepare(code, { 0: 1 });
        const f = h.runToFault();
        // The exception frame (error code, EIP, CS, EFLAGS) sits just below the ESP the faulting instruction left.
        out.push([mode, f.vector, f.err, f.eip, h.esp + 16, h.cpu.icount]);
      });
      const at = code[0] === 0xe8 ? CODE : CODE + 5;
      expect(out[0].slice(1, 5)).toEqual([13, 0, at, code[0] === 0xe8 ? STACK_TOP : STACK_TOP - 4]);
      expect(out[1].slice(1)).toEqual(out[0].slice(1));
      expect(out[2].slice(1)).toEqual(out[0].slice(1));
    }
  });

  it('RET whose return address is on a page not present: #PF at the RET, ESP unchanged, in every executor', () => {
    const out: unknown[][] = [];
    each((h, mode) => {
      enablePaging(h);
      h.w32(0x31000 + 4 * 0x40, 0); // page 0x40000 not present
      h.cpu.flushTlb(true);
      // mov esp, 0x40000 | ret  (reads 0x40000; the fault frame goes below, on page 0x3f)
      h.prepare([0xbc, ...imm32(0x40000), 0xc3]);
      const f = h.runToFault();
      out.push([mode, f.vector, f.err, f.eip, h.esp + 12 + 4, h.cpu.cr2 >>> 0, h.cpu.icount]);
    });
    expect(out[0].slice(1, 6)).toEqual([14, 0, CODE + 5, 0x40000, 0x40000]);
    expect(out[1].slice(1)).toEqual(out[0].slice(1));
    expect(out[2].slice(1)).toEqual(out[0].slice(1));
  });

  it('CALL and RET imm16 with a 16-bit stack (SS.B clear: the handlers) and a 32-bit one agree in every executor', () => {
    for (const ss16 of [true, false]) {
      const out: unknown[][] = [];
      each((h, mode) => {
        if (ss16) h.setSeg(2, 0, 0xffff, 0x80 | 0x10 | 0x03, 0x10);
        // push eax | jmp +3 | ret 4 | call (the ret) | pop ecx? no: mov ebx, esp | call +0 | pop edx
        h.prepare([0x50, 0xeb, 0x03, 0xc2, 0x04, 0x00, 0xe8, ...imm32(-8), 0x89, 0xe3, 0xe8, ...imm32(0), 0x5a], { 0: 0x1234, 4: 0x8000 });
        h.runToHalt();
        out.push([mode, h.ebx, h.edx, h.esp, h.r32(0x7ffc), h.cpu.icount]);
      });
      expect(out[0].slice(1, 5)).toEqual([0x8000, CODE + 18, 0x8000, CODE + 18]);
      expect(out[1].slice(1)).toEqual(out[0].slice(1));
      expect(out[2].slice(1)).toEqual(out[0].slice(1));
    }
  });

  it('straight-line compiled code (no loop) reaches RAM operands inline, with the accessors only as the slow path', async () => {
    const { compileBlock, blockSource } = await import('../../src/cpu/jit');
    // add eax, [esi] | mov [esi+4], eax | add ebx, eax | mov ecx, [esi+8] | hlt — no branch back.
    const code = [0x03, 0x06, 0x89, 0x46, 0x04, 0x01, 0xc3, 0x8b, 0x4e, 0x08];
    const h = new Harness(1, MODES.blocks).flat32([0xf4]);
    h.prepare(code, { 0: 5, 3: 1, 6: DATA });
    h.w32(DATA, 0x10); h.w32(DATA + 8, 0x99);
    h.runToHalt();
    h.cpu.eip = CODE;
    const b = blockAtEip(h);
    const src = blockSource(compileBlock(b));
    expect(src).not.toContain('let r0 = r[0]'); // registers stay in the Cpu's array (no loop)
    expect(src).toMatch(/ram32\[p >>> 2\]/);
    // Run it compiled: no accessor call on the fast path (all four accesses hit plain RAM).
    const j = new Harness(1, MODES.jit).flat32([0xf4]);
    j.prepare(code, { 0: 5, 3: 1, 6: DATA });
    j.w32(DATA, 0x10); j.w32(DATA + 8, 0x99);
    const cpu = j.cpu as unknown as Record<string, unknown>;
    let calls = 0;
    for (const name of ['fr32', 'fw32', 'frmw']) {
      const f = cpu[name] as (...a: unknown[]) => unknown;
      cpu[name] = (...a: unknown[]) => { calls++; return f.apply(j.cpu, a); };
    }
    j.runToHalt();
    expect([j.eax, j.ebx, j.ecx, j.r32(DATA + 4)]).toEqual([0x15, 0x16, 0x99, 0x15]);
    expect(calls).toBe(0);
  });

  it('compiled CALL rel32 and RET push and pop inline on a 32-bit stack in RAM (no handler, no stack accessor)', () => {
    // jmp +1 | ret | call (the ret) | call +0 | pop edx | ret 4 after push eax (all inline), then hlt.
    const code = [0xeb, 0x01, 0xc3, 0xe8, ...imm32(-6), 0xe8, ...imm32(0), 0x5a, 0x50, 0xeb, 0x03, 0xc2, 0x04, 0x00, 0xe8, ...imm32(-8)];
    const calls: number[] = [];
    for (const o of [MODES.blocks, MODES.jit]) {
      const h = new Harness(1, o).flat32([0xf4]);
      h.prepare(code, { 0: 7 });
      const cpu = h.cpu as unknown as Record<string, unknown>;
      let n = 0;
      for (const name of ['push', 'push32', 'readSz', 'read32', 'fr32', 'fw32']) {
        const f = cpu[name] as (...a: unknown[]) => unknown;
        cpu[name] = (...a: unknown[]) => { n++; return f.apply(h.cpu, a); };
      }
      h.runToHalt();
      expect([h.edx, h.esp, h.r32(STACK_TOP - 4), h.r32(STACK_TOP - 8)]).toEqual([CODE + 13, STACK_TOP, 7, CODE + 25]);
      calls.push(n);
    }
    expect(calls[0]).toBeGreaterThan(0); // the interpreter's handlers go through the stack accessors
    expect(calls[1]).toBe(0);
  });

  it('CALL and RET after instructions with memory operands compile (their temporaries do not clash) and agree in every executor', () => {
    // jmp +4 | mov ebx, [esp]; ret | push eax; mov ecx, [esp]; call (the mov/ret) | pop edx | hlt
    const code = [0xeb, 0x04, 0x8b, 0x1c, 0x24, 0xc3, 0x50, 0x8b, 0x0c, 0x24, 0xe8, ...imm32(-13), 0x5a];
    const out: unknown[][] = [];
    each((h, mode) => {
      h.prepare(code, { 0: 0x77 });
      h.runToHalt();
      out.push([mode, h.ebx, h.ecx, h.edx, h.esp, h.cpu.icount]);
    });
    expect(out[0].slice(1, 5)).toEqual([CODE + 15, 0x77, 0x77, STACK_TOP]);
    expect(out[1].slice(1)).toEqual(out[0].slice(1));
    expect(out[2].slice(1)).toEqual(out[0].slice(1));
  });

  it('decoded blocks are built and compiled, and the counters say so', () => {
    const h = new Harness(1, MODES.jit).flat32([0xf4]);
    h.exec([0x40, 0x43, 0x01, 0xd8]);
    const c = h.cpu.mmuStats().code;
    expect(c.blocks).toBeGreaterThan(0);
    expect(c.compiled).toBeGreaterThan(0);
  });
});

describe('TS86_FASTPATHS', () => {
  it('parses on, off and per-path lists, and rejects unknown names', () => {
    expect(parseFastPaths(undefined)).toEqual({ decodeCache: true, tlb: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: true, ramFast: true, regions: true, repFast: true, wasm: true });
    expect(parseFastPaths('off')).toEqual({ decodeCache: false, tlb: false, blocks: false, compile: false, links: false, sideExits: false, loops: false, chain: false, ramFast: false, regions: false, repFast: false, wasm: false });
    expect(parseFastPaths('-compile, tlb=off, -loops')).toEqual({ decodeCache: true, tlb: false, blocks: true, compile: false, links: true, sideExits: true, loops: false, chain: true, ramFast: true, regions: true, repFast: true, wasm: true });
    expect(parseFastPaths('-repFast').repFast).toBe(false);
    expect(() => parseFastPaths('-jitt')).toThrow(/unknown fast path 'jitt'/);
  });
});

void HANDLERS;
