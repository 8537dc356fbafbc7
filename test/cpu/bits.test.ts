// Bit instructions and data movement with flags: BT/BTS/BTR/BTC, BSF/BSR, SETcc, CMOVcc,
// BSWAP, XADD, CMPXCHG, CMPXCHG8B, MOVZX/MOVSX.
import { describe, expect, it } from 'vitest';
import { Harness, DATA, CODE } from '../helpers/cpu-harness';
import { CF, PF, AF, ZF, SF, OF, EAX, ECX, EDX, EBX, GP } from '../../src/cpu/consts';

describe('BT / BTS / BTR / BTC', () => {
  const h = new Harness().flat32([0xf4]);
  const OPS = [[0xa3, 'bt'], [0xab, 'bts'], [0xb3, 'btr'], [0xbb, 'btc']] as const;
  const apply = (k: number, v: number, b: number) => (k === 0 ? v : k === 1 ? v | (1 << b) : k === 2 ? v & ~(1 << b) : v ^ (1 << b)) >>> 0;

  it('register operand: offset taken modulo the operand size (32 and 16 bits)', () => {
    OPS.forEach(([op], k) => {
      for (const off of [0, 5, 31, 32, 37, 63, -1]) {
        h.exec([0x0f, op, 0xc8], { [EAX]: 0x8000_0021, [ECX]: off }, ZF); // bt* eax, ecx
        const b = off & 31;
        expect(h.eflags & CF, `k=${k} off=${off}`).toBe((0x80000021 >>> b) & 1 ? CF : 0);
        expect(h.eflags & ZF, 'ZF unaffected').toBe(ZF);
        expect(h.eax).toBe(apply(k, 0x80000021, b));
        h.exec([0x66, 0x0f, op, 0xc8], { [EAX]: 0x1234_8021, [ECX]: off });
        const b16 = off & 15;
        expect(h.eflags & CF).toBe((0x8021 >>> b16) & 1 ? CF : 0);
        expect(h.eax >>> 16).toBe(0x1234);
        expect(h.eax & 0xffff).toBe(apply(k, 0x8021, b16) & 0xffff);
      }
    });
  });

  it('memory operand with register offset addresses beyond the operand, negative offsets too', () => {
    const base = DATA + 0x100;
    OPS.forEach(([op], k) => {
      for (const off of [0, 3, 31, 32, 35, 100, 1000, -1, -32, -33, -1000]) {
        for (let a = DATA; a < DATA + 0x200; a += 4) h.w32(a, 0x5555_5555);
        h.exec([0x0f, op, 0x0b], { [EBX]: base, [ECX]: off }); // bt* [ebx], ecx
        const byteAddr = base + Math.floor(off / 8);
        const bitInByte = ((off % 8) + 8) % 8;
        const ctx = `k=${k} off=${off}`;
        expect(h.eflags & CF, ctx).toBe((0x55 >> bitInByte) & 1 ? CF : 0);
        const want = k === 0 ? 0x55 : k === 1 ? 0x55 | (1 << bitInByte) : k === 2 ? 0x55 & ~(1 << bitInByte) : 0x55 ^ (1 << bitInByte);
        expect(h.r8(byteAddr), ctx).toBe(want);
        // Nothing else changed.
        let changed = 0;
        for (let a = DATA; a < DATA + 0x200; a++) if (a !== byteAddr && h.r8(a) !== 0x55) changed++;
        expect(changed, ctx).toBe(0);
      }
    });
  });

  it('16-bit memory operand with a negative register offset (bts word [ebx], cx = -1)', () => {
    h.w32(DATA + 0x10, 0);
    h.w32(DATA + 0x0c, 0);
    h.exec([0x66, 0x0f, 0xab, 0x0b], { [EBX]: DATA + 0x10, [ECX]: 0xffff });
    expect(h.r16(DATA + 0x0e)).toBe(0x8000);
    expect(h.eflags & CF).toBe(0);
  });

  it('immediate forms (0F BA /4-/7) use the offset modulo the operand size, never leave the operand', () => {
    const regs = [4, 5, 6, 7];
    regs.forEach((r, k) => {
      for (const imm of [0, 7, 31, 33, 0xff]) {
        h.w32(DATA, 0x8000_0001);
        h.w32(DATA + 4, 0);
        h.exec([0x0f, 0xba, (r << 3) | 3, imm], { [EBX]: DATA });
        const b = imm & 31;
        expect(h.eflags & CF).toBe((0x80000001 >>> b) & 1 ? CF : 0);
        expect(h.r32(DATA), `/${r} imm=${imm}`).toBe(apply(k, 0x80000001, b));
        expect(h.r32(DATA + 4)).toBe(0);
      }
    });
  });
});

describe('BSF / BSR', () => {
  const h = new Harness().flat32([0xf4]);
  for (const [op, name] of [[0xbc, 'bsf'], [0xbd, 'bsr']] as const) {
    it(`${name} 32/16-bit, and a zero source sets ZF and leaves the destination`, () => {
      for (const v of [1, 2, 0x80000000, 0x00010100, 0xffffffff, 0x00f0]) {
        h.exec([0x0f, op, 0xc1], { [EAX]: 0xdeadbeef, [ECX]: v });
        const want = op === 0xbc ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
        expect(h.eax, `${name} ${v.toString(16)}`).toBe(want);
        expect(h.eflags & ZF).toBe(0);
      }
      h.exec([0x0f, op, 0xc1], { [EAX]: 0xdeadbeef, [ECX]: 0 });
      expect(h.eax).toBe(0xdeadbeef);
      expect(h.eflags & ZF).toBe(ZF);
      h.exec([0x66, 0x0f, op, 0xc1], { [EAX]: 0xdeadbeef, [ECX]: 0xffff0000 }); // low word zero
      expect(h.eax).toBe(0xdeadbeef);
      expect(h.eflags & ZF).toBe(ZF);
      h.exec([0x66, 0x0f, op, 0xc1], { [EAX]: 0xdeadbeef, [ECX]: 0x00000300 });
      expect(h.eax).toBe(op === 0xbc ? 0xdead0008 : 0xdead0009);
    });
  }
});

/** Condition codes (SDM Vol.1 Appendix B) computed from a flags value. */
function cond(cc: number, f: number): boolean {
  const of = !!(f & OF), cf = !!(f & CF), zf = !!(f & ZF), sf = !!(f & SF), pf = !!(f & PF);
  const base = [of, cf, zf, cf || zf, sf, pf, sf !== of, zf || sf !== of][cc >> 1];
  return cc & 1 ? !base : base;
}
const FLAG_PATTERNS: number[] = [];
for (let m = 0; m < 32; m++) FLAG_PATTERNS.push((m & 1 ? OF : 0) | (m & 2 ? CF : 0) | (m & 4 ? ZF : 0) | (m & 8 ? SF : 0) | (m & 16 ? PF : 0));

describe('SETcc / CMOVcc / Jcc for all 16 conditions', () => {
  const h = new Harness().flat32([0xf4]);
  for (let cc = 0; cc < 16; cc++) {
    it(`cc=${cc.toString(16)}`, () => {
      for (const f of FLAG_PATTERNS) {
        const t = cond(cc, f);
        h.exec([0x0f, 0x90 + cc, 0xc0], { [EAX]: 0x12345678 }, f); // setcc al
        expect(h.eax, `setcc ${cc} f=${f.toString(16)}`).toBe((0x12345600 | (t ? 1 : 0)) >>> 0);
        expect(h.eflags & (CF | PF | AF | ZF | SF | OF)).toBe(f);
        h.exec([0x0f, 0x40 + cc, 0xc1], { [EAX]: 0x11111111, [ECX]: 0x22222222 }, f); // cmovcc eax, ecx
        expect(h.eax, `cmov ${cc}`).toBe(t ? 0x22222222 : 0x11111111);
        h.exec([0x66, 0x0f, 0x40 + cc, 0xc1], { [EAX]: 0x11111111, [ECX]: 0x22222222 }, f); // cmovcc ax, cx
        expect(h.eax).toBe(t ? 0x11112222 : 0x11111111);
        // jcc rel8 over "inc eax"; and the 0F 8x rel32 form
        h.exec([0x70 + cc, 0x01, 0x40], { [EAX]: 0 }, f);
        expect(h.eax, `jcc8 ${cc}`).toBe(t ? 0 : 1);
        h.exec([0x0f, 0x80 + cc, 0x01, 0, 0, 0, 0x40], { [EAX]: 0 }, f);
        expect(h.eax, `jcc32 ${cc}`).toBe(t ? 0 : 1);
      }
    });
  }
  it('setcc to memory and cmovcc from memory', () => {
    h.w32(DATA, 0xffffffff);
    h.exec([0x0f, 0x94, 0x03], { [EBX]: DATA }, ZF); // sete [ebx]
    expect(h.r32(DATA)).toBe(0xffffff01);
    h.w32(DATA, 0xcafef00d);
    h.exec([0x0f, 0x45, 0x03], { [EBX]: DATA, [EAX]: 7 }, 0); // cmovne eax, [ebx]
    expect(h.eax).toBe(0xcafef00d);
  });
  it('cmovcc with a false condition still reads its memory source (and faults)', () => {
    h.setSeg(3, 0, 0xffff);
    h.prepare([0x0f, 0x44, 0x03], { [EBX]: 0x20000 }, 0); // cmove eax, [ebx] beyond DS limit
    const f = h.runToFault();
    expect(f.vector).toBe(GP);
    expect(f.eip).toBe(CODE);
    h.setSeg(3, 0, 0xffffffff);
  });
});

describe('BSWAP / XADD / CMPXCHG / CMPXCHG8B / MOVZX / MOVSX', () => {
  const h = new Harness().flat32([0xf4]);
  it('bswap every register', () => {
    for (let r = 0; r < 8; r++) {
      if (r === 4) continue;
      h.exec([0x0f, 0xc8 + r], { [r]: 0x11223344 });
      expect(h.reg(r), `r${r}`).toBe(0x44332211);
    }
    h.exec([0x0f, 0xc9], { [ECX]: 0x80000001 });
    expect(h.ecx).toBe(0x01000080);
  });
  it('xadd register and memory: exchange then add, flags of the add', () => {
    h.exec([0x0f, 0xc1, 0xc8], { [EAX]: 0xffffffff, [ECX]: 1 }); // xadd eax, ecx
    expect(h.eax).toBe(0);
    expect(h.ecx).toBe(0xffffffff);
    expect(h.eflags & (CF | ZF)).toBe(CF | ZF);
    h.w32(DATA, 0x7fffffff);
    h.exec([0xf0, 0x0f, 0xc1, 0x0b], { [EBX]: DATA, [ECX]: 1 }); // lock xadd [ebx], ecx
    expect(h.r32(DATA)).toBe(0x80000000);
    expect(h.ecx).toBe(0x7fffffff);
    expect(h.eflags & (OF | SF | CF)).toBe(OF | SF);
    h.exec([0x0f, 0xc0, 0xe0], { [EAX]: 0x00000180 }); // xadd al, ah
    expect(h.eax).toBe(0x00008081); // AH := old AL, AL := sum
    h.exec([0x0f, 0xc0, 0xc0], { [EAX]: 0x00000005 }); // xadd al, al: the sum wins
    expect(h.eax & 0xff).toBe(10);
  });
  it('cmpxchg register: equal stores the source; unequal loads the accumulator', () => {
    h.exec([0x0f, 0xb1, 0xca], { [EAX]: 5, [EDX]: 5, [ECX]: 9 }); // cmpxchg edx, ecx
    expect(h.edx).toBe(9);
    expect(h.eax).toBe(5);
    expect(h.eflags & ZF).toBe(ZF);
    h.exec([0x0f, 0xb1, 0xca], { [EAX]: 5, [EDX]: 6, [ECX]: 9 });
    expect(h.edx).toBe(6);
    expect(h.eax).toBe(6);
    expect(h.eflags & (ZF | CF | SF)).toBe(CF | SF); // flags of cmp 5, 6
    h.exec([0x0f, 0xb0, 0xca], { [EAX]: 0xaaaaaa05, [EDX]: 0xbbbbbb07, [ECX]: 0x09 }); // cmpxchg dl, cl
    expect(h.eax).toBe(0xaaaaaa07);
    expect(h.edx).toBe(0xbbbbbb07);
  });
  it('cmpxchg memory, both outcomes, 32 and 16 bits', () => {
    h.w32(DATA, 0x12345678);
    h.exec([0xf0, 0x0f, 0xb1, 0x0b], { [EBX]: DATA, [EAX]: 0x12345678, [ECX]: 0xabcdef01 });
    expect(h.r32(DATA)).toBe(0xabcdef01);
    expect(h.eflags & ZF).toBe(ZF);
    h.exec([0x0f, 0xb1, 0x0b], { [EBX]: DATA, [EAX]: 0x12345678, [ECX]: 0 });
    expect(h.r32(DATA)).toBe(0xabcdef01);
    expect(h.eax).toBe(0xabcdef01);
    expect(h.eflags & ZF).toBe(0);
    h.exec([0x66, 0x0f, 0xb1, 0x0b], { [EBX]: DATA, [EAX]: 0xffffef01, [ECX]: 0x4444 });
    expect(h.r32(DATA)).toBe(0xabcd4444);
    expect(h.eax).toBe(0xffffef01);
  });
  it('cmpxchg8b both outcomes; ZF only', () => {
    h.w32(DATA, 0x11111111); h.w32(DATA + 4, 0x22222222);
    h.exec([0xf0, 0x0f, 0xc7, 0x0e], { [EBX]: 0x33333333, [ECX]: 0x44444444, [EAX]: 0x11111111, [EDX]: 0x22222222, 6: DATA }, CF); // lock cmpxchg8b [esi]
    expect(h.r32(DATA)).toBe(0x33333333);
    expect(h.r32(DATA + 4)).toBe(0x44444444);
    expect(h.eflags & (ZF | CF)).toBe(ZF | CF);
    h.exec([0x0f, 0xc7, 0x0e], { [EBX]: 1, [ECX]: 2, [EAX]: 0x33333333, [EDX]: 0, 6: DATA });
    expect(h.eax).toBe(0x33333333);
    expect(h.edx).toBe(0x44444444);
    expect(h.r32(DATA)).toBe(0x33333333);
    expect(h.eflags & ZF).toBe(0);
  });
  it('cmpxchg8b with a register operand is #UD', () => {
    h.prepare([0x0f, 0xc7, 0xc8]);
    expect(h.runToFault().vector).toBe(6);
  });
  it('movzx / movsx, byte and word sources, 16- and 32-bit destinations', () => {
    h.exec([0x0f, 0xb6, 0xc1], { [EAX]: 0xffffffff, [ECX]: 0x1234_5680 });
    expect(h.eax).toBe(0x80);
    h.exec([0x0f, 0xbe, 0xc1], { [ECX]: 0x1234_5680 });
    expect(h.eax).toBe(0xffffff80);
    h.exec([0x0f, 0xb7, 0xc1], { [ECX]: 0x1234_8765 });
    expect(h.eax).toBe(0x8765);
    h.exec([0x0f, 0xbf, 0xc1], { [ECX]: 0x1234_8765 });
    expect(h.eax).toBe(0xffff8765);
    h.exec([0x66, 0x0f, 0xbe, 0xc5], { [EAX]: 0xaaaaaaaa, [ECX]: 0x0000_f000 }); // movsx ax, ch
    expect(h.eax).toBe(0xaaaafff0);
    h.exec([0x66, 0x0f, 0xb6, 0xc5], { [EAX]: 0xaaaaaaaa, [ECX]: 0x0000_f000 }); // movzx ax, ch
    expect(h.eax).toBe(0xaaaa00f0);
    h.w32(DATA, 0x0000_9abc);
    h.exec([0x0f, 0xbf, 0x03], { [EBX]: DATA }); // movsx eax, word [ebx]
    expect(h.eax).toBe(0xffff9abc);
  });
});
