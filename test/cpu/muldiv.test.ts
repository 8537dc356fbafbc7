// MUL / IMUL (one-, two- and three-operand forms) and DIV / IDIV at 8/16/32 bits,
// with #DE (divide by zero, quotient overflow) restarting at the faulting instruction.
import { describe, expect, it } from 'vitest';
import { Harness, CODE, DATA, le32, le16 } from '../helpers/cpu-harness';
import { CF, OF, EAX, ECX, EDX, EBX, DE } from '../../src/cpu/consts';

type Bits = 8 | 16 | 32;
const VALS = [0n, 1n, 2n, 3n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x12345678n];
const mask = (b: Bits) => (1n << BigInt(b)) - 1n;
const u = (v: bigint, b: Bits) => BigInt.asUintN(b, v);
const s = (v: bigint, b: Bits) => BigInt.asIntN(b, v);
const vals = (b: Bits) => [...new Set(VALS.map((v) => v & mask(b)))];

describe('MUL / IMUL one-operand', () => {
  const h = new Harness().flat32([0xf4]);
  for (const bits of [8, 16, 32] as Bits[]) {
    for (const signed of [false, true]) {
      it(`${signed ? 'imul' : 'mul'} ${bits}: full product in AX / DX:AX / EDX:EAX, CF=OF=overflow`, () => {
        const pre = bits === 16 ? [0x66] : [];
        const code = [...pre, bits === 8 ? 0xf6 : 0xf7, signed ? 0xe9 : 0xe1]; // (i)mul cl/cx/ecx
        for (const a of vals(bits)) for (const b of vals(bits)) {
          h.exec(code, { [EAX]: Number(a), [ECX]: Number(b), [EDX]: 0x5555aaaa });
          const p = signed ? s(a, bits) * s(b, bits) : a * b;
          const lo = u(p, bits), hi = u(p >> BigInt(bits), bits);
          const ctx = `${signed ? 'imul' : 'mul'}${bits} ${a.toString(16)}*${b.toString(16)}`;
          if (bits === 8) {
            expect(h.eax & 0xffff, ctx).toBe(Number(u(p, 16)));
            expect(h.edx, `${ctx} edx untouched`).toBe(0x5555aaaa);
          } else {
            expect(BigInt(h.eax) & mask(bits), ctx).toBe(lo);
            expect(BigInt(h.edx) & mask(bits), ctx).toBe(hi);
            if (bits === 16) expect(h.edx >>> 16, `${ctx} upper edx`).toBe(0x5555);
          }
          const overflow = signed ? s(p, bits * 2 as 16) !== s(lo, bits) : hi !== 0n;
          expect(h.eflags & (CF | OF), ctx).toBe(overflow ? CF | OF : 0);
        }
      });
    }
  }
});

describe('IMUL two- and three-operand', () => {
  const h = new Harness().flat32([0xf4]);
  for (const bits of [16, 32] as Bits[]) {
    const pre = bits === 16 ? [0x66] : [];
    it(`imul r${bits}, r/m${bits} (0F AF) truncates and flags signed overflow`, () => {
      for (const a of vals(bits)) for (const b of vals(bits)) {
        h.exec([...pre, 0x0f, 0xaf, 0xc1], { [EAX]: Number(a), [ECX]: Number(b), [EDX]: 0x77777777 }); // imul eax, ecx
        const p = s(a, bits) * s(b, bits);
        const ctx = `imul2 ${bits} ${a.toString(16)}*${b.toString(16)}`;
        expect(BigInt(h.eax) & mask(bits), ctx).toBe(u(p, bits));
        expect(h.edx, `${ctx} edx untouched`).toBe(0x77777777);
        expect(h.eflags & (CF | OF), ctx).toBe(s(u(p, bits), bits) !== p ? CF | OF : 0);
      }
    });
    it(`imul r${bits}, r/m${bits}, imm (69 Iz and 6B sign-extended Ib)`, () => {
      const imms = bits === 32 ? [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x10000n] : [0n, 1n, 0x7fffn, 0x8000n, 0xffffn];
      for (const a of vals(bits)) {
        for (const imm of imms) {
          h.exec([...pre, 0x69, 0xd1, ...(bits === 32 ? le32(Number(imm)) : le16(Number(imm)))], { [ECX]: Number(a) }); // imul edx, ecx, imm
          const p = s(a, bits) * s(imm, bits);
          const ctx = `imul3 ${bits} ${a.toString(16)}*${imm.toString(16)}`;
          expect(BigInt(h.edx) & mask(bits), ctx).toBe(u(p, bits));
          expect(h.eflags & (CF | OF), ctx).toBe(s(u(p, bits), bits) !== p ? CF | OF : 0);
        }
        for (const imm8 of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
          h.exec([...pre, 0x6b, 0xd1, imm8], { [ECX]: Number(a) }); // imul edx, ecx, imm8
          const p = s(a, bits) * s(BigInt(imm8), 8);
          expect(BigInt(h.edx) & mask(bits), `imul 6B ${a.toString(16)}*${imm8.toString(16)}`).toBe(u(p, bits));
          expect(h.eflags & (CF | OF)).toBe(s(u(p, bits), bits) !== p ? CF | OF : 0);
        }
      }
    });
  }
  it('imul with a memory source: imul eax, [ebx+4], -2', () => {
    h.w32(DATA + 4, 0x40000000);
    h.exec([0x6b, 0x43, 0x04, 0xfe], { [EBX]: DATA });
    expect(h.eax).toBe(0x80000000);
    expect(h.eflags & (CF | OF)).toBe(0); // -2^31 fits
  });
});

describe('DIV / IDIV', () => {
  const h = new Harness().flat32([0xf4]);
  const dividends: Record<Bits, bigint[]> = {
    8: [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xff00n, 0xffffn, 0x1234n],
    16: [0n, 1n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n, 0xffff0000n, 0xffffffffn, 0x12345678n],
    32: [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffff00000000n, 0xffffffffffffffffn, 0x123456789abcdefn],
  };
  for (const bits of [8, 16, 32] as Bits[]) {
    for (const signed of [false, true]) {
      it(`${signed ? 'idiv' : 'div'} ${bits}: quotient/remainder, or #DE with all state intact`, () => {
        const pre = bits === 16 ? [0x66] : [];
        const code = [...pre, bits === 8 ? 0xf6 : 0xf7, signed ? 0xf9 : 0xf1]; // (i)div cl/cx/ecx
        const w = BigInt(bits * 2);
        for (const n of dividends[bits]) for (const d of vals(bits)) {
          const lo = Number(n & mask(bits)), hi = Number((n >> BigInt(bits)) & mask(bits));
          const regs = bits === 8 ? { [EAX]: 0xabcd0000 | Number(n), [ECX]: Number(d), [EDX]: 0x13579bdf }
            : { [EAX]: bits === 16 ? 0xabcd0000 | lo : lo, [EDX]: bits === 16 ? 0x13570000 | hi : hi, [ECX]: Number(d) };
          h.prepare(code, regs);
          const before = [...h.cpu.r32.slice(0, 8)];
          h.run();
          const nn = signed ? BigInt.asIntN(Number(w), n) : n;
          const dd = signed ? s(d, bits) : d;
          const ctx = `${signed ? 'idiv' : 'div'}${bits} ${n.toString(16)}/${d.toString(16)}`;
          let q: bigint | null = null, r = 0n;
          if (dd !== 0n) {
            q = nn / dd; // BigInt division truncates toward zero, as IDIV does
            r = nn % dd; // remainder has the dividend's sign
            const fits = signed ? q >= -(1n << BigInt(bits - 1)) && q < (1n << BigInt(bits - 1)) : q <= mask(bits);
            if (!fits) q = null;
          }
          if (q === null) {
            const f = h.fault();
            expect(f.vector, ctx).toBe(DE);
            expect(f.eip, `${ctx} #DE points at the DIV`).toBe(CODE);
            expect([...h.cpu.r32.slice(0, 4)], `${ctx} registers unchanged`).toEqual(before.slice(0, 4));
            continue;
          }
          expect(h.faultVector(), ctx).toBe(-1);
          if (bits === 8) {
            expect(h.eax, ctx).toBe((0xabcd0000 | (Number(u(r, 8)) << 8) | Number(u(q, 8))) >>> 0);
          } else if (bits === 16) {
            expect(h.eax, ctx).toBe((0xabcd0000 | Number(u(q, 16))) >>> 0);
            expect(h.edx, ctx).toBe((0x13570000 | Number(u(r, 16))) >>> 0);
          } else {
            expect(h.eax, ctx).toBe(Number(u(q, 32)));
            expect(h.edx, ctx).toBe(Number(u(r, 32)));
          }
        }
      });
    }
  }
  it('div by a memory operand that is zero: #DE, EIP at the instruction (with prefixes)', () => {
    h.w32(DATA, 0);
    h.prepare([0x3e, 0xf7, 0x33], { [EBX]: DATA, [EAX]: 5 }); // div dword ds:[ebx]
    const f = h.runToFault();
    expect(f.vector).toBe(DE);
    expect(f.err).toBeNull();
    expect(f.eip).toBe(CODE);
    expect(h.eax).toBe(5);
  });
  it('idiv -2^31 / -1 overflows (#DE)', () => {
    h.prepare([0xf7, 0xf9], { [EAX]: 0x80000000, [EDX]: 0xffffffff, [ECX]: 0xffffffff });
    expect(h.runToFault().vector).toBe(DE);
  });
});
