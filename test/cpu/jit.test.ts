// Block dispatch and the block compiler against the plain interpreter: random straight-line
// programs run in lockstep (same random budgets) on three CPUs — every fast path off, blocks
// without compiling, and blocks compiled from their first run — and must agree on registers,
// EFLAGS, memory, EIP and the instruction count at every stop. Then the corners a block
// executor can get wrong: self-modifying code inside the running block, a fault in the middle
// of a block, interrupt shadows, an MMIO access that raises an interrupt, budgets that end
// inside a block, and single-stepping.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, HANDLERS } from '../helpers/cpu-harness';
import type { CpuOptions } from '../../src/cpu/cpu';
import { GS } from '../../src/cpu/consts';
import { parseFastPaths } from '../../src/cpu/fastpaths';

const MODES: Record<string, CpuOptions> = {
  interp: { decodeCache: false, blocks: false, compile: false },
  blocks: { decodeCache: true, blocks: true, compile: false, links: false },
  jit: { decodeCache: true, blocks: true, compile: true, links: true, compileThreshold: 1 },
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
    case 0: case 1: return [(r(8) << 3) | 1, 0xc0 | (s << 3) | d]; // ALU r32, r32 (01 form)
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
    case 20: return [0x70 + r(16), 5, 0xb8 + d, ...imm32(r(0x10000))]; // Jcc over MOV r, imm32
    default: return [r(2) ? 0xf8 : r(2) ? 0xf9 : 0xf5]; // CLC / STC / CMC
  }
}

function snapshot(h: Harness): Record<string, number> {
  const c = h.cpu;
  const o: Record<string, number> = { eip: c.eip, icount: c.icount, eflags: c.getEflags(), halted: c.halted ? 1 : 0 };
  for (let k = 0; k < 8; k++) o[`r${k}`] = c.r32[k] >>> 0;
  for (let a = DATA; a < DATA + 256; a += 4) o[`m${(a - DATA).toString(16)}`] = h.r32(a);
  return o;
}

describe('blocks and compiled blocks agree with the plain interpreter', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
    it(`random program, seed ${seed}`, () => {
      const r = rng(seed * 104729);
      const code: number[] = [];
      for (let k = 0; k < 300; k++) code.push(...randomInsn(r));
      const hs = Object.values(MODES).map((o) => new Harness(1, o).flat32([0xf4]));
      for (const h of hs) {
        h.prepare(code, { 6: DATA });
        for (let a = 0; a < 256; a += 4) h.w32(DATA + a, VALUES[(a >> 2) % VALUES.length] ^ (a * 0x01010101));
        h.cpu.setEflags((seed & 1) | 2);
      }
      for (let chunk = 0; chunk < 400 && !hs[0].cpu.halted; chunk++) {
        const budget = 1 + r(r(2) ? 8 : 64);
        const exits = hs.map((h) => h.run(budget));
        const ref = snapshot(hs[0]);
        for (let m = 1; m < hs.length; m++) {
          expect(exits[m], `chunk ${chunk} ${Object.keys(MODES)[m]}`).toBe(exits[0]);
          expect(snapshot(hs[m]), `chunk ${chunk} ${Object.keys(MODES)[m]}`).toEqual(ref);
        }
      }
      expect(hs[0].cpu.halted).toBe(true);
      expect(hs[0].faultVector()).toBe(-1);
      expect(hs[2].cpu.statCompiled).toBeGreaterThan(2);
    });
  }
});

function each(fn: (h: Harness, mode: string) => void): void {
  for (const [mode, o] of Object.entries(MODES)) fn(new Harness(1, o).flat32([0xf4]), mode);
}

describe('block corners (interp, blocks, compiled)', () => {
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
    expect(parseFastPaths(undefined)).toEqual({ decodeCache: true, tlb: true, blocks: true, compile: true, links: true });
    expect(parseFastPaths('off')).toEqual({ decodeCache: false, tlb: false, blocks: false, compile: false, links: false });
    expect(parseFastPaths('-compile, tlb=off')).toEqual({ decodeCache: true, tlb: false, blocks: true, compile: false, links: true });
    expect(() => parseFastPaths('-jitt')).toThrow(/unknown fast path 'jitt'/);
  });
});

void HANDLERS;
