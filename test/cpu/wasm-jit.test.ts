// The experimental WebAssembly region tier (src/cpu/wasm-jit.ts) against the plain
// interpreter: random programs of the forms it has (MOV, LEA, ALU and TEST without carry-in,
// Jcc after a producer in the same block, JMP), with counted loops so regions loop inside
// the module, run in lockstep with random budgets; memory operands that take the way out
// (MMIO, a page-crossing access); paging on (the wrapper runs the JavaScript region); a
// jump past the CS limit.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, STACK_TOP } from '../helpers/cpu-harness';
import type { CpuOptions } from '../../src/cpu/cpu';
import { wasmApi } from '../../src/cpu/wasm-encode';

const INTERP: CpuOptions = { decodeCache: false, blocks: false, compile: false };
const WASM: CpuOptions = { decodeCache: true, blocks: true, compile: true, links: true, sideExits: true, loops: true, chain: true, ramFast: true, regions: true, compileThreshold: 1, wasm: true };
const JS: CpuOptions = { ...WASM, wasm: false };

function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
}
const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const DST = [0, 2, 3, 5, 7]; // not ECX (loop counter), ESP, ESI (data pointer)
const ALU = [0, 1, 4, 5, 6, 7]; // ADD OR AND SUB XOR CMP
const VALUES = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** One instruction of the supported forms; a memory operand is [ESI+d8] (sometimes ESI-2: a page-crossing read). */
function insn(r: (n: number) => number): number[] {
  const d = DST[r(DST.length)], s = DST[r(DST.length)], k = ALU[r(ALU.length)];
  const m = (reg: number): number[] => (r(10) === 0 ? [0x46 | (reg << 3), 0xfe] : [0x46 | (reg << 3), r(32) * 4]);
  switch (r(12)) {
    case 0: return [(k << 3) | 1, 0xc0 | (s << 3) | d]; // ALU r, r
    case 1: return [(k << 3) | 3, ...m(d)]; // ALU r, [m]
    case 2: return [(k << 3) | 1, ...m(s)]; // ALU [m], r
    case 3: return [0x81, 0xc0 | (k << 3) | d, ...imm32(VALUES[r(VALUES.length)])]; // ALU r, imm32
    case 4: return [0x83, ...m(k), r(256)]; // ALU [m], imm8
    case 5: return [0xb8 + d, ...imm32(VALUES[r(VALUES.length)])]; // MOV r, imm32
    case 6: return [0x8b, ...m(d)]; // MOV r, [m]
    case 7: return [0x89, ...m(s)]; // MOV [m], r
    case 8: return [0x8d, 0x44 | (d << 3), (r(4) << 6) | (s << 3) | DST[r(DST.length)], r(256)]; // LEA
    case 9: return [0x85, 0xc0 | (s << 3) | d]; // TEST r, r
    case 10: return [0x39, 0xc0 | (s << 3) | d, 0x70 + r(16), 2, 0x89, 0xc0 | (s << 3) | d]; // CMP; Jcc over a MOV
    default: return [0xc7, ...m(0), ...imm32(VALUES[r(VALUES.length)])]; // MOV [m], imm32
  }
}

/** A counted loop: MOV ECX, n | L: body | SUB ECX, 1 | JNZ L (rel8). */
function loop(r: (n: number) => number): number[] {
  const body: number[] = [];
  for (let k = 1 + r(6); k > 0; k--) body.push(...insn(r));
  const back = -(body.length + 3 + 2);
  return [0xb9, ...imm32(2 + r(40)), ...body, 0x83, 0xe9, 0x01, 0x75, back & 0xff];
}

function state(h: Harness): Record<string, number> {
  const c = h.cpu;
  const o: Record<string, number> = { eip: c.eip, icount: c.icount, eflags: c.getEflags(), halted: c.halted ? 1 : 0 };
  for (let k = 0; k < 8; k++) o[`r${k}`] = c.r32[k] >>> 0;
  for (let a = DATA - 16; a < DATA + 160; a += 4) o[`m${(a - DATA).toString(16)}`] = h.r32(a);
  for (let a = STACK_TOP - 32; a < STACK_TOP; a += 4) o[`s${(STACK_TOP - a).toString(16)}`] = h.r32(a);
  return o;
}

// ---- the second generation of forms: every operand size, shifts, IMUL, INC/DEC, NOT/NEG,
// ADC/SBB, SETcc/CMOVcc, the stack, CALL/RET, flag readers whose producer is not in their block ----

const B8 = [0, 2, 3, 4, 6, 7]; // AL DL BL AH DH BH (not CL/CH: the loop counter)
const imm16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];

/** A flag producer of any kind this tier has (register operands). */
function producer(r: (n: number) => number): number[] {
  const d = DST[r(DST.length)], s = DST[r(DST.length)], b = B8[r(B8.length)], b2 = B8[r(B8.length)];
  const o16 = r(3) === 0 ? [0x66] : [];
  switch (r(9)) {
    case 0: return [...o16, (r(8) << 3) | 1, 0xc0 | (s << 3) | d]; // ALU (ADC/SBB too) r, r
    case 1: return [(r(8) << 3) | 0, 0xc0 | (b2 << 3) | b]; // ALU r8, r8
    case 2: return [...o16, (r(2) ? 0x40 : 0x48) + d]; // INC/DEC r
    case 3: return [...o16, 0xd3, 0xc0 | ([4, 5, 7][r(3)] << 3) | d]; // SHL/SHR/SAR r, CL
    case 4: return [...o16, 0xc1, 0xc0 | ([4, 5, 7][r(3)] << 3) | d, r(34)]; // shift r, imm8
    case 5: return [...o16, 0x0f, 0xaf, 0xc0 | (d << 3) | s]; // IMUL r, r
    case 6: return [...o16, 0xf7, 0xc0 | (3 << 3) | d]; // NEG r
    case 7: return [0xfe, 0xc0 | (r(2) << 3) | b]; // INC/DEC r8
    default: return [0xd0 + r(2) * 2, 0xc0 | ([4, 5, 7][r(3)] << 3) | b]; // shift r8 by 1 or CL
  }
}

function insn2(r: (n: number) => number): number[] {
  const d = DST[r(DST.length)], s = DST[r(DST.length)], k = r(8);
  const b = B8[r(B8.length)], b2 = B8[r(B8.length)];
  // [ESI+d8]: mostly aligned, sometimes ESI-2 or ESI-1 (crossing into the page below for wider accesses).
  const m = (reg: number): number[] => { const x = r(12); return [0x46 | (reg << 3), x === 0 ? 0xfe : x === 1 ? 0xff : r(32) * 4 + (r(4) === 0 ? 1 : 0)]; };
  const o16 = r(2) ? [0x66] : [];
  const mov2 = [0x89, 0xc0 | (s << 3) | d];
  switch (r(24)) {
    case 0: return [...o16, (k << 3) | 1, 0xc0 | (s << 3) | d]; // ALU r16/32, r (ADC, SBB too)
    case 1: return [(k << 3) | 0, 0xc0 | (b2 << 3) | b]; // ALU r8, r8
    case 2: return [(k << 3) | 2, ...m(b)]; // ALU r8, [m]
    case 3: return [...o16, (k << 3) | 1, ...m(s)]; // ALU [m], r16/32
    case 4: return [0x80, ...m(k), r(256)]; // ALU byte [m], imm8
    case 5: return [...o16, 0x83, 0xc0 | (k << 3) | d, r(256)]; // ALU r, simm8
    case 6: return [0x0f, r(2) ? 0xb6 : 0xbe, ...m(d)]; // MOVZX/MOVSX r32, byte [m]
    case 7: return [...(r(3) ? [] : [0x66]), 0x0f, r(2) ? 0xb7 : 0xbf, 0xc0 | (d << 3) | s]; // MOVZX/MOVSX r, r16
    case 8: return [0x0f, r(2) ? 0xb6 : 0xbe, 0xc0 | (d << 3) | b]; // MOVZX/MOVSX r32, r8 (AH..BH too)
    case 9: { // shifts: r/m by imm8, by 1, by CL; every size
      const sh = [4, 5, 7, 6][r(4)];
      switch (r(4)) {
        case 0: return [...o16, 0xc1, 0xc0 | (sh << 3) | d, r(40)];
        case 1: return [...o16, 0xd1, ...m(sh)];
        case 2: return [0xc0, ...m(sh), r(12)];
        default: return r(2) ? [...o16, 0xd3, ...m(sh)] : [0xd2, 0xc0 | (sh << 3) | b];
      }
    }
    case 10: switch (r(3)) { // IMUL
      case 0: return [...o16, 0x0f, 0xaf, ...m(d)];
      case 1: return [...o16, 0x6b, 0xc0 | (d << 3) | s, r(256)];
      default: return o16.length ? [0x66, 0x69, ...m(d), ...imm16(VALUES[r(VALUES.length)])] : [0x69, ...m(d), ...imm32(VALUES[r(VALUES.length)])];
    }
    case 11: return [...o16, (r(2) ? 0x40 : 0x48) + d]; // INC/DEC r
    case 12: return [r(2) ? 0xfe : 0xff, ...m(r(2))]; // INC/DEC byte/dword [m]
    case 13: return r(2) ? [...o16, 0xf7, 0xc0 | ((2 + r(2)) << 3) | d] : [0xf6, ...m(2 + r(2))]; // NOT/NEG
    case 14: switch (r(5)) { // 8- and 16-bit MOV
      case 0: return [0x88, 0xc0 | (b2 << 3) | b];
      case 1: return [0x8a, ...m(b)];
      case 2: return [0x88, ...m(b)];
      case 3: return [0xb0 + b, r(256)];
      default: return [0x66, 0xb8 + d, ...imm16(VALUES[r(VALUES.length)])];
    }
    case 15: return [0x50 + s, ...insn(r), 0x58 + d]; // PUSH r; something; POP r
    case 16: return r(2) ? [0x6a, r(256), 0x58 + d] : [0x68, ...imm32(VALUES[r(VALUES.length)]), 0x58 + d]; // PUSH imm; POP r
    case 17: { // CALL a subroutine that returns (CALL; JMP over the subroutine; sub: body; RET)
      const body = [...insn(r), ...(r(2) ? producer(r) : [])];
      return [0xe8, ...imm32(2), 0xeb, body.length + 1, ...body, 0xc3];
    }
    case 18: return [...producer(r), 0xeb, 0x00, 0x70 + r(16), 2, ...mov2]; // Jcc starting a block (flags from the last block)
    case 19: return [0xeb, 0x00, 0x70 + r(16), 2, ...mov2]; // Jcc after a JMP: flags maybe from before the module ran
    case 20: return [...producer(r), 0x70 + r(16), 2, ...mov2]; // Jcc after any producer in its block
    case 21: return [...(r(2) ? producer(r) : r(2) ? [0xeb, 0x00] : []), 0x0f, 0x90 + r(16), ...(r(2) ? [0xc0 | b] : m(0))]; // SETcc r8 / [m]
    case 22: return [...(r(2) ? producer(r) : r(2) ? [0xeb, 0x00] : []), ...o16, 0x0f, 0x40 + r(16), ...(r(2) ? [0xc0 | (d << 3) | s] : m(d))]; // CMOVcc
    default: return [0xeb, 0x00, (2 + r(2)) << 3 | 1, 0xc0 | (s << 3) | d, 0x70 + r(16), 2, ...mov2]; // ADC/SBB with the carry from before; Jcc
  }
}

function loop2(r: (n: number) => number): number[] {
  const body: number[] = [];
  for (let k = 1 + r(6); k > 0; k--) body.push(...insn2(r));
  const back = -(body.length + 3 + 6);
  return [0xb9, ...imm32(2 + r(40)), ...body, 0x83, 0xe9, 0x01, 0x0f, 0x85, ...imm32(back)];
}

/**
 * Runs `code` on the plain interpreter, the JavaScript tier and the WebAssembly tier in
 * lockstep (random budgets from `r`), comparing exits and state after every chunk, until
 * the interpreter halts; `device`: the page below DATA or DATA's own page is a device.
 * Returns the three harnesses (halted).
 */
function lockstep(code: number[], r: (n: number) => number, o: { regs: Record<number, number>; flags: number; device: 'below' | 'at' | null; chunks: number }): Harness[] {
  const hs = [INTERP, JS, WASM].map((opts) => new Harness(1, opts).flat32([0xf4]));
  for (const h of hs) {
    h.prepare(code, o.regs);
    for (let a = -16; a < 160; a += 4) h.w32(DATA + a, VALUES[((a + 16) >> 2) % VALUES.length] ^ (a * 0x01010101));
    h.cpu.setEflags(o.flags);
    if (o.device !== null) {
      h.mem.pageKind[(DATA >>> 12) - (o.device === 'below' ? 1 : 0)] = 1;
      h.mem.mmio = { mmioRead: (a) => (a * 0x9e3779b1) >>> 0, mmioWrite: () => {} };
    }
  }
  for (let chunk = 0; chunk < o.chunks && !hs[0].cpu.halted; chunk++) {
    const budget = 1 + r(r(3) === 0 ? 8 : r(2) ? 64 : 400);
    const exits = hs.map((h) => h.run(budget));
    const ref = state(hs[0]);
    for (let m = 1; m < hs.length; m++) {
      expect(exits[m], `chunk ${chunk} mode ${m}`).toBe(exits[0]);
      expect(state(hs[m]), `chunk ${chunk} mode ${m}`).toEqual(ref);
    }
  }
  expect(hs[0].cpu.halted).toBe(true);
  return hs;
}

describe.skipIf(wasmApi === null)('WebAssembly regions agree with the plain interpreter', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`random program with loops, seed ${seed}${seed === 7 ? ', a device page below the data' : seed === 8 ? ', the data page a device' : ''}`, () => {
      const r = rng(seed * 7919);
      const code: number[] = [];
      for (let k = 0; k < 120; k++) code.push(...(r(4) === 0 ? loop(r) : insn(r)));
      // Seed 7: the page below DATA is a device (the ESI-2 accesses cross into it); seed 8:
      // DATA's own page is (every memory operand reaches the device, whole).
      const hs = lockstep(code, r, { regs: { 6: DATA }, flags: (seed & 1) | 2, device: seed === 7 ? 'below' : seed === 8 ? 'at' : null, chunks: 3000 });
      expect(hs[2].cpu.statWasm, 'regions compiled to WebAssembly').toBeGreaterThan(0);
      expect(hs[1].cpu.statWasm).toBe(0);
    });
  }

  for (const seed of [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]) {
    it(`random program of every form with loops, seed ${seed}${seed === 21 ? ', a device page below the data' : seed === 22 ? ', the data page a device' : ''}`, () => {
      const r = rng(seed * 104729);
      const code: number[] = [];
      for (let k = 0; k < 100; k++) code.push(...(r(4) === 0 ? loop2(r) : insn2(r)));
      const flags = (r(0x1000) & 0x8d5) | 2;
      const regs = { 6: DATA, 0: 0x12345678 ^ seed, 2: 0x80 + seed, 3: 0xffff0001, 5: seed << 28, 7: 0x7fff };
      const hs = lockstep(code, r, { regs, flags, device: seed === 21 ? 'below' : seed === 22 ? 'at' : null, chunks: 4000 });
      expect(hs[2].cpu.statWasm, 'regions compiled to WebAssembly').toBeGreaterThan(5);
      expect(hs[2].cpu.statWasmInsns, 'instructions run in WebAssembly').toBeGreaterThan(hs[2].cpu.icount / 4);
      expect(hs[1].cpu.statWasm).toBe(0);
    });
  }

  it('shifts, IMUL and INC leave the raw CF/OF/AF bits as the interpreter does (SHL/SHR keep AF, SAR and IMUL clear it)', () => {
    // Each producer ends its block (JMP +0), so the budget stops right after it, in the
    // state the module handed back; the flags before it: every arithmetic bit set.
    const producers = [[0xd1, 0xf8], [0xd1, 0xe0], [0xd1, 0xe8], [0xc1, 0xf8, 3], [0x66, 0xd1, 0xf8], [0xd0, 0xfc], [0x0f, 0xaf, 0xc3], [0x40], [0xfe, 0xc4], [0xd3, 0xf8]];
    for (const p of producers) {
      for (const flags of [0x8d5 | 2, 2]) {
        const out: unknown[] = [];
        for (const o of [INTERP, WASM]) {
          const h = new Harness(1, o).flat32([0xf4]);
          h.prepare([0xb9, ...imm32(3), ...p, 0xeb, 0x00, 0x90], { 0: 0x80000081, 3: 0x10001 });
          h.cpu.setEflags(flags);
          h.run(3);
          out.push([h.cpu.getEflags(), h.cpu.eip, h.eax, h.cpu.icount]);
          if (o === WASM) expect(h.cpu.statWasmInsns, `${p} ran in WebAssembly`).toBe(3);
        }
        expect(out[1], `${p.map((x) => x.toString(16))} flags ${flags.toString(16)}`).toEqual(out[0]);
      }
    }
    // SAR clears the raw AF bit and a later ADD's lazy flags hide it; the SHL after the
    // module (interpreted) keeps the raw bit, so it must be the one SAR left.
    const out: unknown[] = [];
    for (const o of [INTERP, WASM]) {
      const h = new Harness(1, o).flat32([0xf4]);
      h.prepare([0xb9, ...imm32(3), 0xd1, 0xf8, 0x01, 0xdb, 0xeb, 0x00, 0xd1, 0xe2], { 0: 0x80000081, 3: 0x10001 });
      h.cpu.setEflags(0x8d5 | 2);
      h.run(4);
      if (o === WASM) expect(h.cpu.statWasmInsns).toBe(4);
      h.runToHalt();
      out.push([h.cpu.getEflags(), h.cpu.eip, h.edx]);
    }
    expect(out[1]).toEqual(out[0]);
  });

  it('a store into the region\'s own code (a tracked frame) leaves the module, and the next instruction sees the new bytes', () => {
    const out: unknown[] = [];
    for (const o of [INTERP, WASM]) {
      const h = new Harness(1, o).flat32([0xf4]);
      // mov ecx, 5 | L: add dword [imm], 1 | add ebx, 0x10 (imm32 at CODE+14) | sub ecx, 1 | jnz L | jmp +0
      const code = [0xb9, ...imm32(5), 0x83, 0x05, ...imm32(CODE + 14), 0x01, 0x81, 0xc3, ...imm32(0x10), 0x83, 0xe9, 0x01, 0x75, 0xee, 0xeb, 0x00];
      h.prepare(code);
      h.runToHalt();
      out.push([h.ebx, h.r32(CODE + 14), h.cpu.icount]);
      if (o === WASM) expect(h.cpu.statWasm).toBeGreaterThan(0);
    }
    expect(out[0]).toEqual([0x11 + 0x12 + 0x13 + 0x14 + 0x15, 0x15, 1 + 5 * 4 + 2]);
    expect(out[1]).toEqual(out[0]);
  });

  it('a jump off the page past the CS limit is #GP(0) at the jump, as in the interpreter', () => {
    const out: unknown[] = [];
    for (const o of [INTERP, WASM]) {
      const h = new Harness(1, o).flat32([0xf4]);
      // L: add eax, 1 | cmp eax, 3 | jne L | jmp +0x2000 (another page, past the limit)
      h.prepare([0x83, 0xc0, 0x01, 0x83, 0xf8, 0x03, 0x75, 0xf8, 0xe9, ...imm32(0x2000)]);
      h.setSeg(1, 0, CODE + 0x1fff, undefined, 0x08);
      const f = h.runToFault();
      out.push([f.vector, f.err, f.eip, h.cpu.r32[0]]);
    }
    expect(out[0]).toEqual([13, 0, CODE + 8, 3]);
    expect(out[1]).toEqual(out[0]);
  });
});
