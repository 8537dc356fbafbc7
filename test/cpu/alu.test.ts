// ALU flags at 8/16/32 bits: ADD ADC SUB SBB CMP AND OR XOR NEG INC DEC, against an
// independent reference model of the SDM's flag definitions (Vol.1 Appendix A, Vol.2 per instruction).
import { describe, expect, it } from 'vitest';
import { Harness, DATA, le32, le16 } from '../helpers/cpu-harness';
import { CF, PF, AF, ZF, SF, OF, EAX, ECX, EDX, EBX } from '../../src/cpu/consts';

type Bits = 8 | 16 | 32;
const MASK: Record<Bits, number> = { 8: 0xff, 16: 0xffff, 32: 0xffffffff };
const ARITH = CF | PF | AF | ZF | SF | OF;

function parity(v: number): number {
  let p = 1;
  for (let b = v & 0xff; b; b >>= 1) p ^= b & 1;
  return p ? PF : 0;
}
function szp(res: number, bits: Bits): number {
  return (res === 0 ? ZF : 0) | (((res / 2 ** (bits - 1)) & 1) ? SF : 0) | parity(res);
}
const sign = (v: number, bits: Bits) => Math.floor(v / 2 ** (bits - 1)) & 1;

/** Reference: op 0..7 (ADD OR ADC SBB AND SUB XOR CMP). Returns [result, flags (AF excluded for logic)]. */
function ref(op: number, a: number, b: number, cin: number, bits: Bits): [number, number] {
  const m = MASK[bits];
  let full: number, res: number, f = 0;
  switch (op) {
    case 0: case 2: {
      const c = op === 2 ? cin : 0;
      full = a + b + c;
      res = full % (m + 1);
      if (full > m) f |= CF;
      if (sign(a, bits) === sign(b, bits) && sign(res, bits) !== sign(a, bits)) f |= OF;
      if (((a ^ b ^ res) & 0x10) !== 0) f |= AF;
      return [res, f | szp(res, bits)];
    }
    case 3: case 5: case 7: {
      const c = op === 3 ? cin : 0;
      full = a - b - c;
      res = ((full % (m + 1)) + (m + 1)) % (m + 1);
      if (full < 0) f |= CF;
      if (sign(a, bits) !== sign(b, bits) && sign(res, bits) !== sign(a, bits)) f |= OF;
      if (((a ^ b ^ res) & 0x10) !== 0) f |= AF;
      return [res, f | szp(res, bits)];
    }
    default: {
      res = (op === 1 ? a | b : op === 4 ? a & b : a ^ b) >>> 0;
      res = res & m;
      if (bits === 32) res >>>= 0;
      return [res >>> 0, szp(res >>> 0, bits)];
    }
  }
}

const VALUES = [0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x7fff, 0x8000, 0x8001, 0xffff, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];
function values(bits: Bits): number[] { return [...new Set(VALUES.map((v) => (v & MASK[bits]) >>> 0))]; }
function readSized(h: Harness, r: number, bits: Bits): number { return bits === 32 ? h.reg(r) : h.reg(r) & MASK[bits]; }

const NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

describe('ALU register forms: result and all six flags', () => {
  const h = new Harness().flat32([0xf4]);
  for (const bits of [8, 16, 32] as Bits[]) {
    for (let op = 0; op < 8; op++) {
      it(`${NAMES[op]} ${bits}-bit over boundary values`, () => {
        // op al/ax/eax, cl/cx/ecx
        const code = bits === 8 ? [(op << 3) | 0, 0xc8] : bits === 16 ? [0x66, (op << 3) | 1, 0xc8] : [(op << 3) | 1, 0xc8];
        const logic = op === 1 || op === 4 || op === 6;
        const cins = op === 2 || op === 3 ? [0, 1] : [0];
        for (const a of values(bits)) for (const b of values(bits)) for (const cin of cins) {
          // Upper bits of EAX/ECX must be preserved by the narrower forms: seed them with a pattern.
          const hiA = bits === 32 ? 0 : (0xa5a5a5a5 & ~MASK[bits]) >>> 0;
          h.exec(code, { [EAX]: (hiA | a) >>> 0, [ECX]: (0x5a5a5a5a & ~MASK[bits]) | b }, cin ? CF : 0);
          const [res, flags] = ref(op, a, b, cin, bits);
          const want = op === 7 ? a : res;
          const ctx = `${NAMES[op]}${bits} a=${a.toString(16)} b=${b.toString(16)} cin=${cin}`;
          expect(readSized(h, EAX, bits), ctx).toBe(want);
          expect(h.reg(EAX) & ~MASK[bits], `${ctx} upper bits`).toBe(hiA & ~MASK[bits]);
          const m = logic ? ARITH & ~AF : ARITH;
          expect(h.eflags & m, ctx).toBe(flags & m);
        }
      });
    }
  }
});

describe('NEG / INC / DEC', () => {
  const h = new Harness().flat32([0xf4]);
  for (const bits of [8, 16, 32] as Bits[]) {
    const pre = bits === 16 ? [0x66] : [];
    it(`neg ${bits}: CF = (src != 0), OF only for the minimum value`, () => {
      for (const a of values(bits)) {
        h.exec([...pre, bits === 8 ? 0xf6 : 0xf7, 0xd8], { [EAX]: a });
        const [res, flags] = ref(5, 0, a, 0, bits);
        expect(readSized(h, EAX, bits)).toBe(res);
        expect(h.eflags & ARITH, `neg ${a.toString(16)}`).toBe(flags);
      }
    });
    for (const [name, enc, op] of [['inc', bits === 8 ? [0xfe, 0xc0] : [...pre, 0x40], 0], ['dec', bits === 8 ? [0xfe, 0xc8] : [...pre, 0x48], 5]] as const) {
      it(`${name} ${bits}: like add/sub 1 but CF preserved (both CF values)`, () => {
        for (const a of values(bits)) for (const cin of [0, 1]) {
          h.exec(enc, { [EAX]: a }, cin ? CF : 0);
          const [res, flags] = ref(op, a, 1, 0, bits);
          expect(readSized(h, EAX, bits)).toBe(res);
          expect(h.eflags & ARITH, `${name} ${a.toString(16)} cf=${cin}`).toBe((flags & ~CF) | (cin ? CF : 0));
        }
      });
    }
    it(`inc/dec ${bits} on memory (FE/FF /0 /1)`, () => {
      const mop = bits === 8 ? 0xfe : 0xff;
      const v = MASK[bits] >>> 1; // 0x7f / 0x7fff / 0x7fffffff
      h.w32(DATA, 0xcccccccc);
      if (bits === 8) h.w8(DATA, v); else if (bits === 16) h.w16(DATA, v); else h.w32(DATA, v);
      h.exec([...pre, mop, 0x03], { [EBX]: DATA }, CF); // inc [ebx]
      const want = (v + 1) & MASK[bits];
      expect(bits === 32 ? h.r32(DATA) : bits === 16 ? h.r16(DATA) : h.r8(DATA)).toBe(want >>> 0);
      expect(h.eflags & (OF | CF | SF)).toBe(OF | CF | SF);
      h.exec([...pre, mop, 0x0b], { [EBX]: DATA }); // dec [ebx]
      expect(bits === 32 ? h.r32(DATA) : bits === 16 ? h.r16(DATA) : h.r8(DATA)).toBe(v);
      expect(h.eflags & (OF | CF | SF)).toBe(OF);
      if (bits !== 32) expect(h.r8(DATA + bits / 8)).toBe(0xcc); // neighbour untouched
    });
  }
});

describe('ALU immediate and memory forms', () => {
  const h = new Harness().flat32([0xf4]);
  it('83 /0 sign-extends imm8 at 32 and 16 bits', () => {
    h.exec([0x83, 0xc0, 0xff], { [EAX]: 1 }); // add eax, -1
    expect(h.eax).toBe(0);
    expect(h.eflags & (CF | ZF | OF | AF)).toBe(CF | ZF | AF);
    h.exec([0x66, 0x83, 0xc0, 0x80], { [EAX]: 0x12340000 }); // add ax, -128
    expect(h.eax).toBe(0x1234ff80);
    expect(h.eflags & (CF | SF | OF)).toBe(SF);
  });
  it('81 /5 imm32 and 05 eAX,Iz / 66 05 Iw', () => {
    h.exec([0x81, 0xe9, ...le32(0x80000000)], { [ECX]: 0x7fffffff }); // sub ecx, 0x80000000
    expect(h.ecx).toBe(0xffffffff);
    expect(h.eflags & (CF | OF | SF)).toBe(CF | OF | SF);
    h.exec([0x05, ...le32(1)], { [EAX]: 0x7fffffff });
    expect(h.eax).toBe(0x80000000);
    expect(h.eflags & (OF | SF | CF | ZF)).toBe(OF | SF);
    h.exec([0x66, 0x05, ...le16(0x8000)], { [EAX]: 0xabcd8000 });
    expect(h.eax).toBe(0xabcd0000);
    expect(h.eflags & (OF | CF | ZF | PF)).toBe(OF | CF | ZF | PF);
  });
  it('add [mem], reg and add reg, [mem] at 32 bits, cmp [mem], imm does not write', () => {
    h.w32(DATA, 0xffffffff);
    h.exec([0x01, 0x0b], { [EBX]: DATA, [ECX]: 1 }); // add [ebx], ecx
    expect(h.r32(DATA)).toBe(0);
    expect(h.eflags & (CF | ZF)).toBe(CF | ZF);
    h.w32(DATA, 0x40000000);
    h.exec([0x03, 0x03], { [EBX]: DATA, [EAX]: 0x40000000 }); // add eax, [ebx]
    expect(h.eax).toBe(0x80000000);
    expect(h.eflags & OF).toBe(OF);
    h.w32(DATA, 5);
    h.exec([0x83, 0x3b, 0x06], { [EBX]: DATA }); // cmp dword [ebx], 6
    expect(h.r32(DATA)).toBe(5);
    expect(h.eflags & (CF | SF | ZF)).toBe(CF | SF);
  });
  it('adc/sbb chains propagate carry across 64-bit values', () => {
    // eax:edx = 0xffffffff:0x00000001 + 1:0 via add eax,ebx ; adc edx,ecx
    h.exec([0x01, 0xd8, 0x11, 0xca], { [EAX]: 0xffffffff, [EDX]: 1, [EBX]: 1, [ECX]: 0 });
    expect(h.eax).toBe(0);
    expect(h.edx).toBe(2);
    // sub eax,ebx ; sbb edx,ecx: 0x1_00000000 - 1 = 0x0_ffffffff
    h.exec([0x29, 0xd8, 0x19, 0xca], { [EAX]: 0, [EDX]: 1, [EBX]: 1, [ECX]: 0 });
    expect(h.eax).toBe(0xffffffff);
    expect(h.edx).toBe(0);
    expect(h.eflags & (CF | ZF)).toBe(ZF);
  });
  it('TEST clears CF and OF, sets SF/ZF/PF from the AND', () => {
    h.exec([0x85, 0xc8], { [EAX]: 0x80000000, [ECX]: 0xffffffff }, CF | OF);
    expect(h.eflags & (CF | OF | SF | ZF | PF)).toBe(SF | PF);
    expect(h.eax).toBe(0x80000000);
  });
});


