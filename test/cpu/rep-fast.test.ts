// The REP string fast path (ops-data repLoop: a page at a time through the typed arrays)
// against the iteration-by-iteration path: the same memory, registers, flags, instruction
// count and faults, over page crossings, misalignment, overlapping copies, decoded code in
// the destination and not-present pages; and it is really taken on plain RAM.
import { describe, expect, it } from 'vitest';
import { Harness, DATA, CODE } from '../helpers/cpu-harness';
import { EAX, ECX, EDI, ESI, PF_ } from '../../src/cpu/consts';
import { identityPaging } from '../cpu-pm/pm-harness';
import type { CpuOptions } from '../../src/cpu/cpu';

const ON: CpuOptions = { repFast: true };
const OFF: CpuOptions = { repFast: false };

function pattern(h: Harness, at: number, n: number, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let k = 0; k < n; k++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; h.w8(at + k, x & 0xff); }
}

interface Case { name: string; code: number[]; regs: Partial<Record<number, number>>; setup?: (h: Harness) => void; paging?: boolean }

function runBoth(c: Case): { on: Harness; off: Harness; state: unknown[][]; fault: (number | null)[] } {
  const out: unknown[][] = [];
  const faults: (number | null)[] = [];
  const hs: Harness[] = [];
  for (const opts of [ON, OFF]) {
    const h = new Harness(2, opts).flat32([0xf4]);
    pattern(h, DATA, 0x6000, 7);
    c.setup?.(h);
    if (c.paging) identityPaging(h.cpu);
    h.prepare(c.code, c.regs);
    h.run(1_000_000);
    faults.push(h.cpu.halted ? null : h.faultVector());
    out.push([h.eax, h.ecx, h.esi, h.edi, h.cpu.getEflags(), h.cpu.icount, h.cpu.eip, Buffer.from(h.mem.ram.subarray(DATA, DATA + 0x6000)).toString('base64')]);
    hs.push(h);
  }
  return { on: hs[0], off: hs[1], state: out, fault: faults };
}

const STOS = [[0xf3, 0xaa], [0x66, 0xf3, 0xab], [0xf3, 0xab]];
const MOVS = [[0xf3, 0xa4], [0x66, 0xf3, 0xa5], [0xf3, 0xa5]];

describe('REP string fast path', () => {
  const cases: Case[] = [];
  for (const [k, code] of STOS.entries()) {
    for (const at of [DATA, DATA + 0x7fc, DATA + 0x801, DATA + 0xff8]) {
      for (const n of [0, 1, 2, 3, 1000, 0x1801]) cases.push({ name: `stos size ${1 << k} at ${at.toString(16)} n ${n}`, code, regs: { [EAX]: 0x8badf00d, [EDI]: at, [ECX]: n } });
    }
  }
  for (const [k, code] of MOVS.entries()) {
    const s = 1 << k;
    for (const [src, dst] of [[DATA, DATA + 0x3000], [DATA + 0x10, DATA + 0x10 + s], [DATA + 0x10 + 4 * s, DATA + 0x10], [DATA + 0x7f0, DATA + 0x2ff8], [DATA + 1, DATA + 0x3002], [DATA + 0x100, DATA + 0x100]]) {
      for (const n of [2, 5, 0x300, 0x1401]) cases.push({ name: `movs size ${s} ${src.toString(16)}->${dst.toString(16)} n ${n}`, code, regs: { [ESI]: src, [EDI]: dst, [ECX]: n } });
    }
  }
  // REPNE SCASB: found in the first page, found just after a page end, not found within ECX, found at the first byte.
  for (const [at, n, put] of [[DATA + 0x10, 0x100, DATA + 0x40], [DATA + 0xf00, 0x400, DATA + 0x1003], [DATA + 0x10, 0x80, -1], [DATA + 0x20, 10, DATA + 0x20]] as const) {
    cases.push({ name: `repne scasb at ${at.toString(16)} n ${n} match ${put}`, code: [0xf2, 0xae], regs: { [EAX]: 0x5a, [EDI]: at, [ECX]: n },
      setup: (h) => { for (let a = at; a < at + n + 16; a++) if (h.r8(a) === 0x5a) h.w8(a, 0x11); if (put >= 0) h.w8(put, 0x5a); } });
  }
  cases.push({ name: 'rep movsd across pages with paging on', code: MOVS[2], regs: { [ESI]: DATA + 0x123 * 4, [EDI]: DATA + 0x3004, [ECX]: 0x900 }, paging: true });

  for (const c of cases) {
    it(c.name, () => {
      const { state, fault } = runBoth(c);
      expect(fault).toEqual([null, null]);
      expect(state[0]).toEqual(state[1]);
    });
  }

  it('a not-present page in the middle of a REP STOSD faults at that iteration, as without the fast path', () => {
    const out: unknown[][] = [];
    for (const opts of [ON, OFF]) {
      const h = new Harness(2, opts).flat32([0xf4]);
      const pte = identityPaging(h.cpu);
      h.mem.write32(pte(DATA + 0x1000), 0); // the second page of the run is not present
      h.prepare(STOS[2], { [EAX]: 0x12345678, [EDI]: DATA + 0xf00, [ECX]: 0x800 });
      const f = h.runToFault();
      out.push([f.vector, f.eip, h.ecx, h.edi, h.cpu.cr2, h.cpu.icount, Buffer.from(h.mem.ram.subarray(DATA, DATA + 0x3000)).toString('base64')]);
    }
    expect(out[0].slice(0, 5)).toEqual([PF_, CODE, 0x800 - 0x40, DATA + 0x1000, DATA + 0x1000]);
    expect(out[0]).toEqual(out[1]);
  });

  it('a REP STOS over decoded code ahead in the same block is seen (the code page takes the checked path)', () => {
    for (const opts of [ON, OFF]) {
      // rep stosb (EDI = CODE+7, ECX = 3, AL = 0x40: inc eax) | nop nop nop nop nop | hlt
      const h = new Harness(1, { ...opts, compileThreshold: 1 }).flat32([0xf4]);
      h.prepare([0xf3, 0xaa, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90], { [EAX]: 0x40, [EDI]: CODE + 7, [ECX]: 3 });
      h.runToHalt();
      expect(h.eax).toBe(0x43);
    }
  });

  it('is taken on plain RAM: a page of REP STOSD and REP MOVSD make no per-iteration accesses', () => {
    const counts: number[] = [];
    for (const opts of [ON, OFF]) {
      const h = new Harness(2, opts).flat32([0xf4]);
      const cpu = h.cpu as unknown as Record<string, unknown>;
      let n = 0;
      for (const name of ['write32', 'read32', 'writeSz', 'readSz']) {
        const f = cpu[name] as (...a: unknown[]) => unknown;
        cpu[name] = (...a: unknown[]) => { n++; return f.apply(h.cpu, a); };
      }
      // rep stosd (1024 dwords at DATA) | mov esi, DATA | mov edi, DATA+0x2000 | mov ecx, 1024 | rep movsd | hlt
      h.prepare([0xf3, 0xab, 0xbe, ...le(DATA), 0xbf, ...le(DATA + 0x2000), 0xb9, ...le(1024), 0xf3, 0xa5], { [EAX]: 0xa5a5a5a5, [EDI]: DATA, [ECX]: 1024 });
      h.runToHalt();
      expect(h.r32(DATA + 0x2ffc)).toBe(0xa5a5a5a5);
      counts.push(n);
    }
    expect(counts[0]).toBe(0);
    expect(counts[1]).toBeGreaterThanOrEqual(3 * 1024);
  });
});

function le(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
