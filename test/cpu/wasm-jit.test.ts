// The experimental WebAssembly region tier (src/cpu/wasm-jit.ts) against the plain
// interpreter: random programs of the forms it has (MOV, LEA, ALU and TEST without carry-in,
// Jcc after a producer in the same block, JMP), with counted loops so regions loop inside
// the module, run in lockstep with random budgets; memory operands that take the way out
// (MMIO, a page-crossing access); paging on (the wrapper runs the JavaScript region); a
// jump past the CS limit.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA } from '../helpers/cpu-harness';
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
  return o;
}

describe.skipIf(wasmApi === null)('WebAssembly regions agree with the plain interpreter', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`random program with loops, seed ${seed}${seed === 7 ? ', a device page below the data' : seed === 8 ? ', the data page a device' : ''}`, () => {
      const r = rng(seed * 7919);
      const code: number[] = [];
      for (let k = 0; k < 120; k++) code.push(...(r(4) === 0 ? loop(r) : insn(r)));
      const hs = [INTERP, JS, WASM].map((o) => new Harness(1, o).flat32([0xf4]));
      for (const h of hs) {
        h.prepare(code, { 6: DATA });
        for (let a = -16; a < 160; a += 4) h.w32(DATA + a, VALUES[((a + 16) >> 2) % VALUES.length] ^ (a * 0x01010101));
        h.cpu.setEflags((seed & 1) | 2);
        if (seed > 6) {
          // Seed 7: the page below DATA is a device (the ESI-2 accesses cross into it); seed 8:
          // DATA's own page is (every memory operand reaches the device, whole).
          h.mem.pageKind[(DATA >>> 12) - (seed === 7 ? 1 : 0)] = 1;
          h.mem.mmio = { mmioRead: (a) => (a * 0x9e3779b1) >>> 0, mmioWrite: () => {} };
        }
      }
      for (let chunk = 0; chunk < 3000 && !hs[0].cpu.halted; chunk++) {
        const budget = 1 + r(r(3) === 0 ? 8 : r(2) ? 64 : 400);
        const exits = hs.map((h) => h.run(budget));
        const ref = state(hs[0]);
        for (let m = 1; m < hs.length; m++) {
          expect(exits[m], `chunk ${chunk} mode ${m}`).toBe(exits[0]);
          expect(state(hs[m]), `chunk ${chunk} mode ${m}`).toEqual(ref);
        }
      }
      expect(hs[0].cpu.halted).toBe(true);
      expect(hs[2].cpu.statWasm, 'regions compiled to WebAssembly').toBeGreaterThan(0);
      expect(hs[1].cpu.statWasm).toBe(0);
    });
  }

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
