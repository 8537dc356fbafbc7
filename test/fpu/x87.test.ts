// Unit tests of the x87 unit through its FpuHost interface (fake host over a
// Uint8Array). Expected values are from the SDM (sections cited) and, for the
// behaviours the SDM leaves open, from the host CPU (see host-compare.test.ts).

import { describe, it, expect, beforeEach } from 'vitest';
import { X87, waitNeedsNM, SW_C0, SW_C1, SW_C2, SW_C3, SW_ES, SW_B, SW_SF } from '../../src/cpu/fpu/x87.js';
import { CR0_EM, CR0_MP, CR0_NE, CR0_TS } from '../../src/cpu/fpu-iface.js';
import { type F80, indefinite } from '../../src/cpu/fpu/softfloat.js';
import { FakeHost, run, runCatch, mem, load, popF80, setCW, h80, hex80, f, num, same } from './host.js';

const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
const RN = 0x000, RD = 0x400, RU = 0x800, RZ = 0xc00;
const PC24 = 0x000, PC53 = 0x200, PC64 = 0x300;

let fpu: X87;
let host: FakeHost;
beforeEach(() => {
  fpu = new X87();
  host = new FakeHost();
  run(fpu, host, 0xdb, 0xe3); // FNINIT
});
const sw = (): number => fpu.status;
const flags = (): number => fpu.status & 0x3f;
const top = (): number => (fpu.status >> 11) & 7;
const ld = (...v: F80[]): void => load(fpu, host, ...v);
const pop = (): F80 => popF80(fpu, host);
const cw = (v: number): void => setCW(fpu, host, v);
const clex = (): void => run(fpu, host, 0xdb, 0xe2);
/** FADD ST(0), ST(1) etc. */
const op2 = (modrm: number): void => run(fpu, host, 0xd8, modrm);
const FADD = 0xc1, FMUL = 0xc9, FSUB = 0xe1, FSUBR = 0xe9, FDIV = 0xf1, FDIVR = 0xf9;

describe('initial state (SDM Vol.3A Table 9-1, Vol.2A FINIT)', () => {
  it('reset gives CW 0040, FINIT gives CW 037F, TW FFFF, SW 0', () => {
    const x = new X87();
    expect(x.cw).toBe(0x0040);
    expect(x.tagWord).toBe(0xffff);
    expect(x.status).toBe(0);
    run(x, host, 0xdb, 0xe3);
    expect(x.cw).toBe(0x037f);
    expect(x.tagWord).toBe(0xffff);
    expect(x.fip).toBe(0);
  });
  it('FLDCW keeps bits 0-5 and 8-12, forces bit 6, clears 13-15', () => {
    cw(0xffff); expect(fpu.cw).toBe(0x1f7f);
    cw(0x0000); expect(fpu.cw).toBe(0x0040);
    host.write16(0, 0x10, 0); run(fpu, host, 0xd9, mem(7), 0x10); // FNSTCW
    expect(host.read16(0, 0x10)).toBe(0x0040);
  });
});

describe('loads and stores', () => {
  it('FLD m80 / FSTP m80 round-trip every encoding bit for bit', () => {
    const vals = [
      h80(0x0000, 0n), h80(0x8000, 0n), h80(0x7fff, 1n << 63n), h80(0x7fff, 0xc000000000000001n), h80(0xffff, 0x8000000000000001n),
      h80(0x0000, 0x8000000000000001n) /* pseudo-denormal */, h80(0x0000, 1n) /* denormal */,
      h80(0x3fff, 0x7fffffffffffffffn) /* unnormal */, h80(0x7fff, 0x4000000000000000n) /* pseudo-NaN */,
      h80(0x7fff, 0n) /* pseudo-infinity */, h80(0x4000, 0xc90fdaa22168c235n),
    ];
    for (const v of vals) {
      ld(v);
      expect(hex80(pop())).toBe(hex80(v));
      expect(flags()).toBe(0);
    }
  });
  it('FLD m32 of an SNaN raises IE and quiets it; of a denormal raises DE and normalises', () => {
    host.put32(0x10, 0x7f800001);
    run(fpu, host, 0xd9, mem(0), 0x10);
    expect(flags()).toBe(IE);
    expect(hex80(pop())).toBe('7fff c000010000000000');
    clex();
    host.put32(0x10, 0x00000001); // 2^-149
    run(fpu, host, 0xd9, mem(0), 0x10);
    expect(flags()).toBe(DE);
    expect(hex80(pop())).toBe(hex80(h80(16383 - 149, 1n << 63n)));
  });
  it('FILD m16/m32/m64 and FIST with all rounding modes', () => {
    host.write16(0, 0x10, 0x8000); run(fpu, host, 0xdf, mem(0), 0x10);
    expect(num(pop())).toBe(-32768);
    host.put64(0x10, 0x8000000000000000n); run(fpu, host, 0xdf, mem(5), 0x10);
    expect(hex80(pop())).toBe('c03e 8000000000000000');
    const cases: [number, number, number[]][] = [ // value, [RN, RD, RU, RZ]
      [2.5, 0, [2, 2, 3, 2]], [-2.5, 0, [-2, -3, -2, -2]], [3.5, 0, [4, 3, 4, 3]], [-0.25, 0, [0, -1, 0, 0]],
    ];
    for (const [v, , exp] of cases) {
      [RN, RD, RU, RZ].forEach((rc, k) => {
        fpu.finit(); cw(0x037f | rc);
        ld(f(v));
        run(fpu, host, 0xdb, mem(3), 0x20); // FISTP m32
        expect(host.get32(0x20) | 0).toBe(exp[k]);
        expect(flags()).toBe(PE);
        expect((sw() & SW_C1) !== 0).toBe(Math.abs(exp[k]!) > Math.abs(v)); // C1 = rounded up (magnitude)
      });
    }
  });
  it('FIST out of range stores the integer indefinite and raises IE', () => {
    ld(f(40000));
    run(fpu, host, 0xdf, mem(3), 0x20); // FISTP m16
    expect(host.read16(0, 0x20)).toBe(0x8000);
    expect(flags()).toBe(IE);
    ld(f(-32768.4));
    clex();
    run(fpu, host, 0xdf, mem(3), 0x20);
    expect(host.read16(0, 0x20)).toBe(0x8000);
    expect(flags()).toBe(PE); // in range after rounding: a real -32768
  });
  it('FISTTP truncates (SSE3) and is #UD without SSE3', () => {
    expect(runCatch(fpu, host, 0xdb, mem(1), 0x20)).toBe(6);
    const x = new X87({ sse3: true });
    run(x, host, 0xdb, 0xe3);
    load(x, host, f(-2.9));
    run(x, host, 0xdb, mem(1), 0x20);
    expect(host.get32(0x20) | 0).toBe(-2);
  });
  it('FST m32/m64: rounding, overflow, underflow (masked responses, SDM Vol.1 §4.9.1.4-5)', () => {
    ld(f(1 + Math.pow(2, -30)));
    run(fpu, host, 0xd9, mem(2), 0x20); // FST m32
    expect(host.get32(0x20)).toBe(0x3f800000);
    expect(flags()).toBe(PE);
    cw(0x037f | RU); clex();
    run(fpu, host, 0xd9, mem(2), 0x20);
    expect(host.get32(0x20)).toBe(0x3f800001);
    expect(sw() & SW_C1).toBe(SW_C1);
    cw(0x037f); clex();
    ld(f(1e300));
    run(fpu, host, 0xd9, mem(2), 0x20);
    expect(host.get32(0x20)).toBe(0x7f800000);
    expect(flags()).toBe(OE | PE);
    clex(); cw(0x037f | RZ);
    run(fpu, host, 0xd9, mem(2), 0x20);
    expect(host.get32(0x20)).toBe(0x7f7fffff);
    clex(); cw(0x037f);
    ld(f(Math.pow(2, -140) * 1.5));
    run(fpu, host, 0xd9, mem(2), 0x20);
    expect(host.get32(0x20)).toBe(0x00000300);
    expect(flags()).toBe(0); // exact denormal: no UE when masked
    ld(f(Math.pow(2, -1074) * 3));
    run(fpu, host, 0xdd, mem(2), 0x20); // FST m64: exact
    expect(host.get64(0x20)).toBe(3n);
  });
  it('FST m32 with unmasked OE stores nothing', () => {
    cw(0x037f & ~OE);
    host.put32(0x20, 0x12345678);
    ld(f(1e300));
    run(fpu, host, 0xd9, mem(3), 0x20); // FSTP m32
    expect(host.get32(0x20)).toBe(0x12345678);
    expect(flags()).toBe(OE);
    expect(sw() & (SW_ES | SW_B)).toBe(SW_ES | SW_B);
  });
  it('FBLD / FBSTP (SDM Vol.1 §4.7)', () => {
    const bcd = [0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80];
    bcd.forEach((b, i) => host.write8(0, 0x30 + i, b));
    run(fpu, host, 0xdf, mem(4), 0x30);
    expect(num(fpu.st(0))).toBe(-123456789012345678);
    run(fpu, host, 0xdf, mem(6), 0x40);
    expect(Array.from(host.mem.slice(0x40, 0x4a))).toEqual(bcd);
    ld(f(1e18));
    run(fpu, host, 0xdf, mem(6), 0x40);
    expect(Array.from(host.mem.slice(0x40, 0x4a))).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff]);
    expect(flags()).toBe(IE);
    ld(f(-0));
    run(fpu, host, 0xdf, mem(6), 0x40);
    expect(host.mem[0x49]).toBe(0x80);
  });
});

describe('arithmetic: rounding control x precision control (SDM Vol.1 §4.8.4, §8.1.5)', () => {
  // 1 + 2^-30 + 2^-60 rounded to 24, 53 and 64 bits in all four modes.
  const x = 1 + Math.pow(2, -30);
  const table: [number, number, number][] = [
    // pc, rc, expected (as a number where exact), for a = x and b = 2^-60
    [PC24, RN, 1], [PC24, RD, 1], [PC24, RU, 1 + Math.pow(2, -23)], [PC24, RZ, 1],
    [PC53, RN, x], [PC53, RD, x], [PC53, RU, x + Math.pow(2, -52)], [PC53, RZ, x],
  ];
  for (const [pc, rc, want] of table) {
    it(`FADD pc=${pc >> 8} rc=${rc >> 10}`, () => {
      cw(0x007f | pc | rc);
      ld(f(Math.pow(2, -60)), f(x));
      op2(FADD);
      expect(num(fpu.st(0))).toBe(want);
      expect(flags()).toBe(PE);
      expect((sw() & SW_C1) !== 0).toBe(want > x);
    });
    it(`FADD of negatives pc=${pc >> 8} rc=${rc >> 10}`, () => {
      cw(0x007f | pc | rc);
      ld(f(-Math.pow(2, -60)), f(-x));
      op2(FADD);
      const mirrored = rc === RD ? RU : rc === RU ? RD : rc;
      const w = table.find(([p, r]) => p === pc && r === mirrored)![2];
      expect(num(fpu.st(0))).toBe(-w);
    });
  }
  // 1/3 under every PC x RC (expected significands computed with exact rationals).
  const third: [number, number, bigint][] = [
    [PC24, RN, 0xaaaaab0000000000n], [PC24, RD, 0xaaaaaa0000000000n], [PC24, RU, 0xaaaaab0000000000n], [PC24, RZ, 0xaaaaaa0000000000n],
    [PC53, RN, 0xaaaaaaaaaaaaa800n], [PC53, RD, 0xaaaaaaaaaaaaa800n], [PC53, RU, 0xaaaaaaaaaaaab000n], [PC53, RZ, 0xaaaaaaaaaaaaa800n],
    [PC64, RN, 0xaaaaaaaaaaaaaaabn], [PC64, RD, 0xaaaaaaaaaaaaaaaan], [PC64, RU, 0xaaaaaaaaaaaaaaabn], [PC64, RZ, 0xaaaaaaaaaaaaaaaan],
  ];
  for (const [pc, rc, m] of third) {
    it(`FDIV 1/3 and FIDIVR, pc=${pc >> 8} rc=${rc >> 10}`, () => {
      cw(0x007f | pc | rc);
      ld(f(3), f(1)); op2(FDIV);
      expect(hex80(fpu.st(0))).toBe(hex80(h80(0x3ffd, m)));
      expect(flags()).toBe(PE);
      expect((sw() & SW_C1) !== 0).toBe(m !== third.find(([p, r]) => p === pc && r === RZ)![2]); // C1: rounded up
      fpu.finit(); cw(0x007f | pc | rc);
      ld(f(-3)); host.write16(0, 0x20, 2); run(fpu, host, 0xde, mem(7), 0x20); // FIDIVR m16: 2 / -3
      const mirrored = rc === RD ? RU : rc === RU ? RD : rc;
      expect(hex80(fpu.st(0))).toBe(hex80(h80(0xbffe, third.find(([p, r]) => p === pc && r === mirrored)![2])));
    });
  }
  it('64-bit precision keeps 1 + 2^-60 exactly and rounds 1 + 2^-64 per RC', () => {
    cw(0x037f);
    ld(f(Math.pow(2, -60)), f(1));
    op2(FADD);
    expect(hex80(fpu.st(0))).toBe('3fff 8000000000000008');
    expect(flags()).toBe(0);
    for (const [rc, m] of [[RN, 0x8000000000000000n], [RU, 0x8000000000000001n], [RD, 0x8000000000000000n]] as const) {
      fpu.finit(); cw(0x037f | rc);
      ld(f(Math.pow(2, -64)), f(1));
      op2(FADD);
      expect(fpu.st(0).m).toBe(m);
    }
  });
  it('round-to-nearest ties go to even', () => {
    ld(h80(0x3fbf, 1n << 63n) /* 2^-64 */, h80(0x3fff, 0x8000000000000001n));
    op2(FADD);
    expect(fpu.st(0).m).toBe(0x8000000000000002n);
    expect(sw() & SW_C1).toBe(SW_C1);
  });
  it('x - x is +0, except -0 in round-down (IEEE 754 §6.3)', () => {
    ld(f(3), f(3)); op2(FSUB);
    expect(hex80(fpu.st(0))).toBe('0000 0000000000000000');
    fpu.finit(); cw(0x037f | RD);
    ld(f(3), f(3)); op2(FSUB);
    expect(hex80(fpu.st(0))).toBe('8000 0000000000000000');
  });
  it('FSUBR / FDIVR reverse the operands; DC/DE forms write ST(i)', () => {
    ld(f(8), f(2)); // ST0 = 2, ST1 = 8
    op2(FSUBR); expect(num(fpu.st(0))).toBe(6);
    fpu.finit(); ld(f(8), f(2)); op2(FDIVR); expect(num(fpu.st(0))).toBe(4);
    fpu.finit(); ld(f(8), f(2)); run(fpu, host, 0xde, 0xe9); // FSUBP ST(1),ST: ST1 - ST0
    expect(num(fpu.st(0))).toBe(6); expect(top()).toBe(7);
    fpu.finit(); ld(f(8), f(2)); run(fpu, host, 0xdc, 0xf9); // FDIV ST(1),ST: ST1 / ST0
    expect(num(fpu.st(1))).toBe(4);
    fpu.finit(); ld(f(8), f(2)); run(fpu, host, 0xdc, 0xf1); // FDIVR ST(1),ST: ST0 / ST1
    expect(num(fpu.st(1))).toBe(0.25);
  });
  it('memory and integer operand forms', () => {
    ld(f(1.5));
    host.put64(0x20, 0x4004000000000000n); run(fpu, host, 0xdc, mem(0), 0x20); // FADD m64 2.5
    expect(num(fpu.st(0))).toBe(4);
    host.put32(0x20, -3 >>> 0); run(fpu, host, 0xda, mem(1), 0x20); // FIMUL m32 -3
    expect(num(fpu.st(0))).toBe(-12);
    host.write16(0, 0x20, 5); run(fpu, host, 0xde, mem(7), 0x20); // FIDIVR m16: 5 / ST0
    expect(num(fpu.st(0))).toBe(5 / -12);
  });
  it('FSQRT, FRNDINT under every RC', () => {
    ld(f(2)); run(fpu, host, 0xd9, 0xfa);
    expect(hex80(fpu.st(0))).toBe('3fff b504f333f9de6484');
    expect(flags()).toBe(PE);
    for (const [rc, want] of [[RN, 2], [RD, 2], [RU, 3], [RZ, 2]] as const) {
      fpu.finit(); cw(0x037f | rc); ld(f(2.5)); run(fpu, host, 0xd9, 0xfc);
      expect(num(fpu.st(0))).toBe(want);
    }
    fpu.finit(); ld(f(-0.3)); run(fpu, host, 0xd9, 0xfc);
    expect(hex80(fpu.st(0))).toBe('8000 0000000000000000'); // -0
  });
});

describe('special values and masked responses (SDM Vol.1 §4.8.3, §4.9.1)', () => {
  it('invalid operations produce the real indefinite', () => {
    const inv = hex80(indefinite());
    ld(f(Infinity), f(Infinity)); op2(FSUB); expect(hex80(fpu.st(0))).toBe(inv); expect(flags()).toBe(IE);
    fpu.finit(); ld(f(0), f(0)); op2(FDIV); expect(hex80(fpu.st(0))).toBe(inv);
    fpu.finit(); ld(f(0), f(Infinity)); op2(FMUL); expect(hex80(fpu.st(0))).toBe(inv);
    fpu.finit(); ld(f(-1)); run(fpu, host, 0xd9, 0xfa); expect(hex80(fpu.st(0))).toBe(inv);
  });
  it('divide by zero: ZE, signed infinity', () => {
    ld(f(-0), f(5)); op2(FDIV);
    expect(hex80(fpu.st(0))).toBe('ffff 8000000000000000');
    expect(flags()).toBe(ZE);
  });
  it('NaN propagation (Table 4-7)', () => {
    const q1 = h80(0x7fff, 0xc000000000000100n), q2 = h80(0xffff, 0xc000000000000200n);
    const s1 = h80(0x7fff, 0x8000000000000300n);
    ld(q1, q2); op2(FADD); expect(hex80(fpu.st(0))).toBe(hex80(q2)); expect(flags()).toBe(0); // larger significand
    fpu.finit(); ld(s1, q1); op2(FADD); expect(hex80(fpu.st(0))).toBe(hex80(q1)); expect(flags()).toBe(IE); // QNaN wins over SNaN
    fpu.finit(); ld(s1, f(1)); op2(FADD); expect(hex80(fpu.st(0))).toBe('7fff c000000000000300'); // SNaN quieted
  });
  it('unsupported formats are invalid operands (§8.2.2, Table 8-3)', () => {
    for (const u of [h80(0x3fff, 0x7fffffffffffffffn), h80(0x7fff, 0n), h80(0x7fff, 0x4000000000000001n)]) {
      fpu.finit(); ld(f(1), u); op2(FADD);
      expect(hex80(fpu.st(0))).toBe(hex80(indefinite()));
      expect(flags()).toBe(IE);
    }
  });
  it('denormal and pseudo-denormal operands raise DE; pseudo-denormals read as exponent 1', () => {
    ld(h80(0x0000, 0x8000000000000000n), h80(0x0001, 0x8000000000000000n));
    op2(FSUB);
    expect(hex80(fpu.st(0))).toBe('0000 0000000000000000');
    expect(flags()).toBe(DE);
    fpu.finit(); ld(f(1), h80(0x0000, 1n)); op2(FMUL);
    expect(flags()).toBe(DE);
  });
  it('masked underflow: denormal result, UE only when inexact; tininess after rounding', () => {
    ld(f(2), h80(0x0001, 0x8000000000000000n)); op2(FDIV);
    expect(hex80(fpu.st(0))).toBe('0000 4000000000000000');
    expect(flags()).toBe(0);
    fpu.finit(); ld(f(3), h80(0x0001, 0x8000000000000000n)); op2(FDIV);
    expect(flags()).toBe(UE | PE);
    // min-normal * (1 - 2^-126) rounds to the smallest normal: not tiny after rounding
    fpu.finit(); ld(h80(0x3ffe, 0xfffffffffffffffen), h80(0x0001, 0x8000000000000001n)); op2(FMUL);
    expect(hex80(fpu.st(0))).toBe('0001 8000000000000000');
    expect(flags()).toBe(PE);
  });
  it('masked overflow follows RC (§4.9.1.4)', () => {
    const big = h80(0x7ffe, 0xffffffffffffffffn);
    for (const [rc, want] of [[RN, '7fff 8000000000000000'], [RZ, '7ffe ffffffffffffffff'], [RD, '7ffe ffffffffffffffff'], [RU, '7fff 8000000000000000']] as const) {
      fpu.finit(); cw(0x037f | rc); ld(big, big); op2(FADD);
      expect(hex80(fpu.st(0))).toBe(want);
      expect(flags()).toBe(OE | PE);
    }
    fpu.finit(); cw(0x007f | RZ); ld(big, big); op2(FADD); // PC=24: largest 24-bit significand
    expect(hex80(fpu.st(0))).toBe('7ffe ffffff0000000000');
  });
  it('unmasked overflow/underflow wrap the exponent by 24576 (§8.5.4-5)', () => {
    cw(0x037f & ~OE);
    ld(h80(0x7ffe, 1n << 63n), h80(0x7ffe, 1n << 63n)); op2(FMUL);
    expect(hex80(fpu.st(0))).toBe('5ffd 8000000000000000');
    expect(flags()).toBe(OE);
    fpu.finit(); cw(0x037f & ~UE);
    ld(h80(0x0001, 1n << 63n), h80(0x0001, 1n << 63n)); op2(FMUL);
    expect(hex80(fpu.st(0))).toBe(hex80(h80(1 + 1 - 16383 + 24576, 1n << 63n)));
    expect(flags()).toBe(UE);
  });
  it('unmasked pre-computation exceptions leave the destination unchanged', () => {
    cw(0x037f & ~ZE);
    ld(f(0), f(7)); op2(FDIV);
    expect(num(fpu.st(0))).toBe(7);
    expect(sw() & (SW_ES | SW_B | ZE)).toBe(SW_ES | SW_B | ZE);
  });
});

describe('comparisons and classification', () => {
  const cc = (): number => sw() & (SW_C3 | SW_C2 | SW_C0);
  it('FCOM/FUCOM condition codes (Vol.2A Table 3-21)', () => {
    ld(f(2), f(1)); op2(0xd1); expect(cc()).toBe(SW_C0); // 1 < 2
    fpu.finit(); ld(f(1), f(2)); op2(0xd1); expect(cc()).toBe(0);
    fpu.finit(); ld(f(-0), f(0)); op2(0xd1); expect(cc()).toBe(SW_C3);
    fpu.finit(); ld(h80(0x7fff, 0xc000000000000000n), f(0));
    run(fpu, host, 0xdd, 0xe1); // FUCOM: QNaN -> unordered, no IE
    expect(cc()).toBe(SW_C3 | SW_C2 | SW_C0); expect(flags()).toBe(0);
    op2(0xd1); // FCOM: QNaN -> IE
    expect(flags()).toBe(IE);
  });
  it('FCOMI/FUCOMIP set ZF/PF/CF; FCOMPP pops twice', () => {
    ld(f(2), f(1)); run(fpu, host, 0xdb, 0xf1);
    expect(host.eflags & 0x45).toBe(0x01);
    run(fpu, host, 0xdf, 0xe9); // FUCOMIP
    expect(top()).toBe(7);
    fpu.finit(); ld(f(2), f(1)); run(fpu, host, 0xde, 0xd9);
    expect(top()).toBe(0); expect(fpu.tagWord).toBe(0xffff);
  });
  it('FTST, FICOM', () => {
    ld(f(-5)); run(fpu, host, 0xd9, 0xe4); expect(cc()).toBe(SW_C0);
    host.write16(0, 0x20, (-5) & 0xffff); run(fpu, host, 0xde, mem(2), 0x20); expect(cc()).toBe(SW_C3);
  });
  it('FXAM classes (Vol.2A Table 3-43)', () => {
    const cases: [F80 | null, number][] = [
      [null, SW_C3 | SW_C0], [h80(0x3fff, 0x7fffffffffffffffn), 0], [h80(0x7fff, 0xc000000000000000n), SW_C0],
      [f(1), SW_C2], [f(Infinity), SW_C2 | SW_C0], [f(0), SW_C3], [h80(0, 1n), SW_C3 | SW_C2],
    ];
    for (const [v, want] of cases) {
      fpu.finit();
      if (v) ld(v);
      run(fpu, host, 0xd9, 0xe5);
      expect(cc()).toBe(want);
    }
    fpu.finit(); ld(f(-1)); run(fpu, host, 0xd9, 0xe5); expect(sw() & SW_C1).toBe(SW_C1);
  });
});

describe('other arithmetic', () => {
  it('FPREM / FPREM1 quotient bits and C2 (Vol.2A FPREM)', () => {
    ld(f(3), f(17)); run(fpu, host, 0xd9, 0xf8); // 17 rem 3 = 2, q = 5 = 101b
    expect(num(fpu.st(0))).toBe(2);
    expect(sw() & (SW_C0 | SW_C1 | SW_C2 | SW_C3)).toBe(SW_C0 | SW_C1); // C0=Q2, C3=Q1, C1=Q0
    fpu.finit(); ld(f(3), f(17)); run(fpu, host, 0xd9, 0xf5); // IEEE: 17 - 6*3 = -1, q = 6 = 110b
    expect(num(fpu.st(0))).toBe(-1);
    expect(sw() & (SW_C0 | SW_C1 | SW_C2 | SW_C3)).toBe(SW_C0 | SW_C3);
    fpu.finit(); ld(f(3), f(1e30)); run(fpu, host, 0xd9, 0xf8);
    expect(sw() & SW_C2).toBe(SW_C2); // partial remainder
  });
  it('FSCALE and FXTRACT', () => {
    ld(f(3.7), f(1.5)); run(fpu, host, 0xd9, 0xfd); expect(num(fpu.st(0))).toBe(12);
    fpu.finit(); ld(f(-12)); run(fpu, host, 0xd9, 0xf4);
    expect(num(fpu.st(0))).toBe(-1.5); expect(num(fpu.st(1))).toBe(3);
    fpu.finit(); ld(f(0)); run(fpu, host, 0xd9, 0xf4);
    expect(flags()).toBe(ZE); expect(num(fpu.st(1))).toBe(-Infinity);
  });
  it('constants, with the rounding-mode dependent last bit (Vol.2A FLD1/FLDL2T/...)', () => {
    const c = (modrm: number, rc: number): string => { fpu.finit(); cw(0x037f | rc); run(fpu, host, 0xd9, modrm); return hex80(fpu.st(0)); };
    expect(c(0xeb, RN)).toBe('4000 c90fdaa22168c235');
    expect(c(0xeb, RD)).toBe('4000 c90fdaa22168c234');
    expect(c(0xe9, RN)).toBe('4000 d49a784bcd1b8afe');
    expect(c(0xe9, RU)).toBe('4000 d49a784bcd1b8aff');
    expect(c(0xea, RN)).toBe('3fff b8aa3b295c17f0bc');
    expect(c(0xec, RN)).toBe('3ffd 9a209a84fbcff799');
    expect(c(0xed, RN)).toBe('3ffe b17217f7d1cf79ac');
    expect(c(0xe8, RN)).toBe('3fff 8000000000000000');
    expect(c(0xee, RN)).toBe('0000 0000000000000000');
    expect(flags()).toBe(0);
  });
  it('transcendentals: FSIN/FCOS/FPTAN/FSINCOS/FPATAN/F2XM1/FYL2X/FYL2XP1', () => {
    ld(f(0.5)); run(fpu, host, 0xd9, 0xfe); expect(num(fpu.st(0))).toBeCloseTo(Math.sin(0.5), 15);
    fpu.finit(); ld(f(1)); run(fpu, host, 0xd9, 0xf2); // FPTAN pushes 1.0
    expect(num(fpu.st(0))).toBe(1); expect(num(fpu.st(1))).toBeCloseTo(Math.tan(1), 15);
    fpu.finit(); ld(f(2)); run(fpu, host, 0xd9, 0xfb);
    expect(num(fpu.st(0))).toBeCloseTo(Math.cos(2), 15); expect(num(fpu.st(1))).toBeCloseTo(Math.sin(2), 15);
    fpu.finit(); ld(f(1), f(-1)); run(fpu, host, 0xd9, 0xf3); // atan2(1, -1)
    expect(num(fpu.st(0))).toBeCloseTo(3 * Math.PI / 4, 15);
    fpu.finit(); ld(f(0.5)); run(fpu, host, 0xd9, 0xf0); expect(num(fpu.st(0))).toBeCloseTo(Math.SQRT2 - 1, 15);
    fpu.finit(); ld(f(3), f(8)); run(fpu, host, 0xd9, 0xf1); expect(num(fpu.st(0))).toBe(9);
    fpu.finit(); ld(f(1), f(0.25)); run(fpu, host, 0xd9, 0xf9); expect(num(fpu.st(0))).toBeCloseTo(Math.log2(1.25), 15);
    expect(flags() & PE).toBe(PE);
  });
  it('FSIN with |x| >= 2^63 sets C2 and leaves ST(0) (Vol.2A FSIN)', () => {
    ld(h80(0x403e, 1n << 63n)); run(fpu, host, 0xd9, 0xfe);
    expect(sw() & SW_C2).toBe(SW_C2);
    expect(hex80(fpu.st(0))).toBe('403e 8000000000000000');
  });
  it('FSIN reduces with a 66-bit pi: sin(FLDPI) is the residual of that pi', () => {
    run(fpu, host, 0xd9, 0xeb); run(fpu, host, 0xd9, 0xfe);
    // FLDPI (RN) - pi66 = 0xc90fdaa22168c235 * 2^-62 - pi66 * 2^-64 = (4 - 3) * 2^-64 ... = 2^-64 * 1
    expect(hex80(fpu.st(0))).toBe('bfbf 8000000000000000');
  });
});

describe('stack management (SDM Vol.1 §8.5.1.1)', () => {
  it('overflow: IE, SF, C1=1; masked response pushes the indefinite', () => {
    for (let i = 0; i < 8; i++) run(fpu, host, 0xd9, 0xe8);
    expect(flags()).toBe(0);
    run(fpu, host, 0xd9, 0xe8);
    expect(sw() & (SW_SF | SW_C1 | IE)).toBe(SW_SF | SW_C1 | IE);
    expect(hex80(fpu.st(0))).toBe(hex80(indefinite()));
  });
  it('overflow with IE unmasked changes nothing but the status word', () => {
    cw(0x037e);
    for (let i = 0; i < 8; i++) run(fpu, host, 0xd9, 0xee);
    run(fpu, host, 0xd9, 0xe8);
    expect(top()).toBe(0);
    expect(num(fpu.st(0))).toBe(0);
    expect(sw() & (SW_ES | SW_B | SW_SF)).toBe(SW_ES | SW_B | SW_SF);
  });
  it('underflow: IE, SF, C1=0; FADDP from empty registers stores the indefinite and pops', () => {
    ld(f(1));
    run(fpu, host, 0xde, 0xc1);
    expect(sw() & (SW_SF | SW_C1 | IE)).toBe(SW_SF | IE);
    expect(hex80(fpu.st(0))).toBe(hex80(indefinite()));
  });
  it('FXCH, FFREE, FFREEP, FINCSTP, FDECSTP, FLD ST(i), FST ST(i)', () => {
    ld(f(1), f(2));
    run(fpu, host, 0xd9, 0xc9); expect(num(fpu.st(0))).toBe(1); expect(num(fpu.st(1))).toBe(2);
    run(fpu, host, 0xd9, 0xc1); expect(num(fpu.st(0))).toBe(2); expect(top()).toBe(5);
    run(fpu, host, 0xdd, 0xd2); expect(num(fpu.st(2))).toBe(2); // FST ST(2)
    run(fpu, host, 0xdd, 0xc0); expect(fpu.isEmpty(0)).toBe(true); expect(top()).toBe(5); // FFREE ST(0)
    run(fpu, host, 0xd9, 0xf7); expect(top()).toBe(6); // FINCSTP
    run(fpu, host, 0xdf, 0xc0); expect(top()).toBe(7); expect(fpu.isEmpty(-1)).toBe(true); // FFREEP
    run(fpu, host, 0xd9, 0xf6); expect(top()).toBe(6); // FDECSTP
  });
  it('FCMOVcc reads EFLAGS', () => {
    ld(f(5), f(1));
    host.eflags = 0x41; // ZF, CF
    run(fpu, host, 0xda, 0xc1); expect(num(fpu.st(0))).toBe(5); // FCMOVB taken
    fpu.finit(); ld(f(5), f(1));
    run(fpu, host, 0xdb, 0xc9); expect(num(fpu.st(0))).toBe(1); // FCMOVNE not taken
  });
});

describe('CR0 and exception delivery (SDM Vol.3A §2.5, Vol.1 §8.7)', () => {
  it('#NM when CR0.EM or CR0.TS, for every ESC instruction', () => {
    host.cr0 = CR0_NE | CR0_EM;
    expect(runCatch(fpu, host, 0xdb, 0xe3)).toBe(7);
    host.cr0 = CR0_NE | CR0_TS;
    expect(runCatch(fpu, host, 0xd9, 0xe8)).toBe(7);
  });
  it('WAIT raises #NM only with MP=1 and TS=1', () => {
    expect(waitNeedsNM(CR0_TS)).toBe(false);
    expect(waitNeedsNM(CR0_MP | CR0_TS)).toBe(true);
    expect(waitNeedsNM(CR0_MP | CR0_EM)).toBe(false);
    host.cr0 = CR0_MP | CR0_TS;
    expect(() => fpu.fwait(host)).toThrow(/exception 7/);
  });
  it('deferred #MF: the next waiting instruction (or FWAIT) signals, non-waiting ones do not', () => {
    cw(0x037f & ~ZE);
    ld(f(0), f(1)); op2(FDIV);
    expect(fpu.pending).toBe(true);
    run(fpu, host, 0xdf, 0xe0); // FNSTSW AX: no check
    expect(host.ax & (SW_ES | SW_B)).toBe(SW_ES | SW_B);
    expect(runCatch(fpu, host, 0xd9, 0xe8)).toBe(16); // FLD1 waits -> #MF
    expect(top()).toBe(6); // and did not execute
    expect(() => fpu.fwait(host)).toThrow(/exception 16/);
    run(fpu, host, 0xdb, 0xe2); // FNCLEX
    expect(fpu.pending).toBe(false);
    expect(runCatch(fpu, host, 0xd9, 0xe8)).toBe(-1);
  });
  it('CR0.NE=0: FERR# is asserted instead of #MF, and FNCLEX deasserts it', () => {
    host.cr0 = 0;
    cw(0x037f & ~ZE);
    ld(f(0), f(1)); op2(FDIV);
    expect(host.ferr).toBe(false);
    run(fpu, host, 0xd9, 0xe8);
    expect(host.ferr).toBe(true);
    run(fpu, host, 0xdb, 0xe2);
    expect(host.ferr).toBe(false);
  });
  it('FLDCW unmasking a pending flag makes it pending (ES), FNINIT clears it', () => {
    ld(f(0), f(1)); op2(FDIV);
    expect(fpu.pending).toBe(false);
    cw(0x037f & ~ZE);
    expect(fpu.pending).toBe(true);
    expect(runCatch(fpu, host, 0xd9, 0xe8)).toBe(16);
    run(fpu, host, 0xdb, 0xe3);
    expect(fpu.pending).toBe(false);
  });
  it('undefined encodings raise #UD', () => {
    for (const [op, modrm] of [[0xd9, 0xd1], [0xd9, 0x08], [0xdb, 0x20], [0xdb, 0x30], [0xdd, 0x28], [0xdf, 0xe1], [0xde, 0xd8], [0xd9, 0xe2], [0xda, 0xe0], [0xdd, 0xf0]]) {
      expect(runCatch(fpu, host, op!, modrm!)).toBe(6);
    }
  });
});

describe('environment and state images (SDM Vol.1 §8.1.10, Figures 8-9..8-12)', () => {
  function prep(): void {
    cw(0x0a7f);
    ld(f(1), f(0), h80(0x7fff, 0xc000000000000000n));
    run(fpu, host, 0xd8, mem(0), 0x1234); // FADD m32 (last non-control instruction, with a memory operand)
  }
  it('32-bit protected-mode FSTENV layout; FLDENV restores it; all exceptions masked after FSTENV', () => {
    prep();
    const status = fpu.status, tw = fpu.tagWord;
    run(fpu, host, 0xd9, mem(6), 0x800);
    const d = (o: number): number => host.get32(0x800 + o);
    expect(d(0)).toBe(0xffff0a7f);
    expect(d(4)).toBe((0xffff0000 | status) >>> 0);
    expect(d(8)).toBe((0xffff0000 | tw) >>> 0);
    expect(tw).toBe(0x1bff); // R5 special (NaN), R6 zero, R7 valid, others empty
    expect(d(12)).toBe(0x1000);
    expect(d(16)).toBe(0x08 | (0x005 << 16)); // FCS | FOP << 16 (FOP of FADD m32 [disp32] = 0 05)
    expect(d(20)).toBe(0x1234);
    expect(d(24)).toBe(0xffff0010);
    expect(fpu.cw).toBe(0x0a7f | 0x3f);
    fpu.finit();
    run(fpu, host, 0xd9, mem(4), 0x800);
    expect(fpu.cw).toBe(0x0a7f);
    expect(fpu.status).toBe(status);
    expect(fpu.tagWord).toBe(0xffff & tw);
    expect(fpu.fdp).toBe(0x1234);
    expect(fpu.fop).toBe(0x005);
  });
  it('16-bit protected and real-mode layouts round-trip', () => {
    for (const real of [false, true]) {
      for (const osize of [16, 32] as const) {
        fpu.finit(); host.realMode = real;
        prep();
        const before = { cw: fpu.cw, sw: fpu.status, tw: fpu.tagWord, fop: fpu.fop };
        const lin = real ? (0x08 << 4) + 0x1000 : 0x1000;
        run(fpu, host, 0xd9, mem(6), 0x800, osize); // FNSTENV
        if (osize === 16) {
          expect(host.read16(0, 0x800)).toBe(0x0a7f);
          expect(host.read16(0, 0x806)).toBe(lin & 0xffff);
          if (real) expect(host.read16(0, 0x808)).toBe(((lin >>> 16) << 12) | 0x005);
          else expect(host.read16(0, 0x808)).toBe(0x08);
        } else if (real) {
          expect(host.get32(0x80c) & 0xffff).toBe(lin & 0xffff);
          expect(host.get32(0x810)).toBe(((lin >>> 16) << 12) | 0x005);
        }
        fpu.finit();
        run(fpu, host, 0xd9, mem(4), 0x800, osize); // FLDENV
        expect({ cw: fpu.cw, sw: fpu.status, tw: fpu.tagWord, fop: real || osize === 32 ? fpu.fop : 0x005 }).toEqual(before);
        if (real) expect(fpu.fip).toBe(lin);
      }
    }
  });
  it('FSAVE stores the registers in stack order and reinitialises; FRSTOR restores', () => {
    prep();
    const regs = [0, 1, 2].map((i) => hex80(fpu.st(i)));
    const sw0 = fpu.status, tw0 = fpu.tagWord;
    run(fpu, host, 0xdd, mem(6), 0x900);
    expect(hex80(host.getF80(0x900 + 28))).toBe(regs[0]);
    expect(hex80(host.getF80(0x900 + 38))).toBe(regs[1]);
    expect(fpu.cw).toBe(0x037f); expect(fpu.tagWord).toBe(0xffff);
    run(fpu, host, 0xdd, mem(4), 0x900);
    expect([0, 1, 2].map((i) => hex80(fpu.st(i)))).toEqual(regs);
    expect(fpu.status).toBe(sw0); expect(fpu.tagWord).toBe(tw0);
    // 16-bit image: registers at offset 14
    run(fpu, host, 0xdd, mem(6), 0xa00, 16);
    expect(hex80(host.getF80(0xa00 + 14))).toBe(regs[0]);
  });
  it('FXSAVE / FXRSTOR with the abridged tag word', () => {
    prep();
    const regs = [0, 1, 2].map((i) => hex80(fpu.st(i)));
    fpu.fxsave(host, 3, 0xc00);
    expect(host.read16(0, 0xc00)).toBe(0x0a7f);
    expect(host.mem[0xc04]).toBe(0xe0); // R5, R6, R7 valid
    expect(hex80(host.getF80(0xc20))).toBe(regs[0]);
    const x = new X87();
    x.fxrstor(host, 3, 0xc00);
    expect([0, 1, 2].map((i) => hex80(x.st(i)))).toEqual(regs);
    expect(x.tagWord).toBe(fpu.tagWord);
    expect(x.status).toBe(fpu.status);
  });
});

describe('restartability: a faulting memory access leaves the FPU untouched', () => {
  it('FSTP m80, FSAVE, FRSTOR, FLD m64, FIST m64, FBSTP', () => {
    ld(f(1), f(2));
    const snap = (): string => JSON.stringify([fpu.status, fpu.tagWord, fpu.cw, fpu.fip, fpu.fop, fpu.fdp, [0, 1].map((i) => hex80(fpu.st(i)))]);
    const s0 = snap();
    host.faultAbove = 0x1000;
    for (const [op, modrm, off] of [[0xdb, mem(7), 0xffa], [0xdd, mem(6), 0xfa0], [0xdd, mem(4), 0xfa0], [0xdd, mem(0), 0xffc], [0xdf, mem(7), 0xffc], [0xdf, mem(6), 0xffa], [0xd9, mem(6), 0xff0]]) {
      expect(runCatch(fpu, host, op!, modrm!, off!)).toBe(14);
      expect(snap()).toBe(s0);
    }
  });
  it('a masked stack underflow on a faulting store leaves no trace either', () => {
    host.faultAbove = 0x1000;
    expect(runCatch(fpu, host, 0xd9, mem(3), 0xffe)).toBe(14);
    expect(fpu.status).toBe(0);
  });
});

describe('instruction pointers (SDM Vol.1 §8.1.8-8.1.9)', () => {
  it('non-control instructions record FIP/FCS/FOP; control instructions do not', () => {
    run(fpu, host, 0xd9, 0xe8);
    expect(fpu.fop).toBe(0x1e8); expect(fpu.fip).toBe(0x1000); expect(fpu.fcs).toBe(0x08);
    fpu.fop = 0;
    run(fpu, host, 0xdf, 0xe0); // FNSTSW AX
    run(fpu, host, 0xd9, mem(7), 0x20); // FNSTCW
    expect(fpu.fop).toBe(0);
  });
});

it('same() helper sanity', () => { expect(same(f(1), f(1))).toBe(true); });

// Behaviours the SDM leaves open or states differently, as the host CPU (Intel
// Xeon, see host-compare.test.ts) does them. Kept here so they are checked even
// where gcc/x86 is unavailable.
describe('host-verified details', () => {
  it('comparisons set the condition codes even when IE/DE is unmasked', () => {
    cw(0x037e);
    ld(f(1), h80(0x7fff, 0xc000000000000000n)); op2(0xd1);
    expect(sw() & (SW_C3 | SW_C2 | SW_C0 | IE | SW_ES)).toBe(SW_C3 | SW_C2 | SW_C0 | IE | SW_ES);
    fpu.finit(); cw(0x037d);
    ld(h80(0x8000, 5n)); run(fpu, host, 0xd9, 0xe4); // FTST of a negative denormal, DE unmasked
    expect(sw() & (SW_C3 | SW_C2 | SW_C0 | DE)).toBe(SW_C0 | DE);
  });
  it('IE and ZE suppress DE', () => {
    ld(f(0), h80(0, 5n)); op2(FDIV);
    expect(flags()).toBe(ZE);
    fpu.finit(); ld(f(0), h80(0, 5n)); run(fpu, host, 0xd9, 0xf5); // FPREM1 by zero
    expect(flags()).toBe(IE);
  });
  it('FPTAN of a NaN pushes the NaN again instead of 1.0', () => {
    ld(h80(0x7fff, 0xc000000000000001n)); run(fpu, host, 0xd9, 0xf2);
    expect(hex80(fpu.st(0))).toBe('7fff c000000000000001');
    expect(hex80(fpu.st(1))).toBe('7fff c000000000000001');
  });
  it('F2XM1 with |x| > 1 and FYL2XP1 with x <= -1 return ST(0) unchanged with PE', () => {
    ld(f(1.5)); run(fpu, host, 0xd9, 0xf0);
    expect(num(fpu.st(0))).toBe(1.5); expect(flags()).toBe(PE);
    fpu.finit(); ld(f(1), f(-1)); run(fpu, host, 0xd9, 0xf9);
    expect(num(fpu.st(0))).toBe(-1); expect(flags()).toBe(PE);
  });
  it('FST m32 of an 80-bit denormal reports UE/PE but no DE', () => {
    ld(h80(0, 12345n)); run(fpu, host, 0xd9, mem(2), 0x20);
    expect(flags()).toBe(UE | PE);
  });
  it('FLD m32 of a denormal with DE unmasked still loads', () => {
    cw(0x037d);
    host.put32(0x20, 1); run(fpu, host, 0xd9, mem(0), 0x20);
    expect(top()).toBe(7);
    expect(sw() & (DE | SW_ES)).toBe(DE | SW_ES);
  });
  it('FSCALE far beyond the wrap range gives infinity / zero even when OE / UE are unmasked', () => {
    cw(0x037f & ~OE & ~UE);
    ld(f(60000), f(1)); run(fpu, host, 0xd9, 0xfd);
    expect(hex80(fpu.st(0))).toBe('7fff 8000000000000000');
    expect(flags()).toBe(OE | PE);
    fpu.finit(); cw(0x037f & ~OE & ~UE);
    ld(f(-60000), f(-1)); run(fpu, host, 0xd9, 0xfd);
    expect(hex80(fpu.st(0))).toBe('8000 0000000000000000');
    expect(flags()).toBe(UE | PE);
  });
  it('FPREM: a denormal remainder with UE unmasked is wrapped; an infinite divisor leaves ST(0)', () => {
    cw(0x037f & ~UE);
    ld(f(1), h80(0, 0x100n)); run(fpu, host, 0xd9, 0xf8);
    expect(fpu.st(0).e).toBe(1 - 63 + 8 + 24576);
    expect(flags()).toBe(UE | DE);
    fpu.finit(); cw(0x037f & ~UE);
    ld(f(-Infinity), h80(0, 0x100n)); run(fpu, host, 0xd9, 0xf8);
    expect(hex80(fpu.st(0))).toBe('0000 0000000000000100');
  });
  it('FNSTENV masks all exceptions and so clears ES and B', () => {
    cw(0x037b);
    ld(f(0), f(1)); op2(FDIV);
    expect(sw() & (SW_ES | SW_B)).toBe(SW_ES | SW_B);
    run(fpu, host, 0xd9, mem(6), 0x800);
    expect(sw() & (SW_ES | SW_B | ZE)).toBe(ZE);
  });
  it('FXAM classifies a pseudo-denormal as denormal', () => {
    ld(h80(0, 0x8000000000000000n)); run(fpu, host, 0xd9, 0xe5);
    expect(sw() & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C3 | SW_C2);
  });
});
