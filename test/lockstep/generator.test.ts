// The lockstep generator and the divergence rules, without KVM.
import { describe, expect, it } from 'vitest';
import { Rng, allowedDefs, encode, fillCode, decodeHere, streamSeed } from '../../src/accel/lockstep/generator';
import { exclusionReason, exclusionList } from '../../src/accel/lockstep/exclusions';
import { explainDivergence } from '../../src/accel/lockstep/harness';
import { decodeAt } from '../../src/debug/disasm';
import type { Insn } from '../../src/cpu/insn';

describe('lockstep generator', () => {
  it('every generated instruction decodes back to its table entry, and no excluded one is generated', () => {
    for (const [mode, bits] of [['real', 16], ['pm32', 32]] as const) {
      const defs = allowedDefs(mode);
      expect(defs.length).toBeGreaterThan(300);
      const rng = new Rng(1), scratch = new Uint8Array(32);
      let made = 0;
      for (let k = 0; k < 5000; k++) {
        const d = defs[rng.below(defs.length)]!;
        const b = encode(d, rng, bits, scratch);
        if (!b) continue;
        made++;
        const i = decodeAt(b, 0, bits);
        expect(typeof i === 'string' ? i : i.def).toBe(d);
        expect(exclusionReason(d, mode)).toBeNull();
      }
      expect(made).toBeGreaterThan(4000);
    }
  });
  it('fills the code window with back-to-back instructions whose starts are real boundaries', () => {
    const code = new Uint8Array(0x10000);
    const starts = fillCode(code, 0xf000, allowedDefs('real'), new Rng(7), 16);
    expect(starts.length).toBeGreaterThan(5000);
    for (let k = 0; k + 1 < starts.length; k += 97) expect(starts[k]! + (decodeHere(code, starts[k]!, 16) as Insn).len).toBe(starts[k + 1]);
  });
  it('is deterministic per (seed, stream)', () => {
    expect(streamSeed(5, 9)).toBe(streamSeed(5, 9));
    expect(streamSeed(5, 9)).not.toBe(streamSeed(5, 10));
    const a = new Uint8Array(64), b = new Uint8Array(64);
    new Rng(3).fill(a); new Rng(3).fill(b);
    expect(a).toEqual(b);
  });
  it('documents every exclusion with a reason', () => {
    for (const l of [...exclusionList('real'), ...exclusionList('pm32')]) expect(l).toMatch(/^[0-9a-f ]+(F [0-9a-f]{2})?.*: .{20,}/i);
    expect(exclusionList('pm32').length).toBeGreaterThan(exclusionList('real').length);
  });
});

describe('known KVM divergences are recognised narrowly', () => {
  const insn = (bytes: number[], bits: 16 | 32): Insn => decodeAt(new Uint8Array(bytes), 0, bits) as Insn;
  const pre = new Int32Array(10);
  it('AAM/AAD: only an SF/ZF difference is explained', () => {
    expect(explainDivergence('real', insn([0xd5, 0x0a], 16), null, pre, ['eflags: interp 00000086, kvm 00000006 (differing 000080, undefined here 811)'])).toMatch(/AAM\/AAD/);
    expect(explainDivergence('real', insn([0xd5, 0x0a], 16), null, pre, ['eflags: interp 00000087, kvm 00000006 (differing 000004, undefined here 811)'])).toBeNull();
    expect(explainDivergence('real', insn([0xd5, 0x0a], 16), null, pre, ['eax: interp 00000001, kvm 00000002'])).toBeNull();
  });
  it('a register difference on an ordinary instruction is never explained', () => {
    expect(explainDivergence('real', insn([0x01, 0xc8], 16), null, pre, ['eax: interp 00000003, kvm 00000004'])).toBeNull();
    expect(explainDivergence('pm32', insn([0x01, 0xc8], 32), null, pre, ['eflags: interp 00040202, kvm 00000202 (differing 040000, undefined here 000)'])).toBeNull(); // AC only counts on delivery
  });
});

describe('combined divergences', () => {
  it('ESP[31:16] cleared on delivery on top of REP SCAS flags is explained; on top of a register difference it is not', () => {
    const i = decodeAt(new Uint8Array([0xf2, 0xaf]), 0, 16) as Insn; // repnz scasw
    const pre = new Int32Array(10);
    const fault = { vec: 13, err: 0 };
    expect(explainDivergence('real', i, fault, pre, ['esp: interp 262eaa65, kvm 0000aa65', 'eflags: interp 00000406, kvm 00000482 (differing 000084, undefined here 000)', 'memory: 1 byte(s) differ, first at linear 0001aa69 (interp 06, kvm 82)'])).toMatch(/REP CMPS\/SCAS.*\+ real-mode exception/);
    expect(explainDivergence('real', i, fault, pre, ['esp: interp 262eaa65, kvm 0000aa65', 'ecx: interp 00000001, kvm 00000002'])).toBeNull();
  });
});
