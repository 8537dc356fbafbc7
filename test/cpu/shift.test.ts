// Shifts and rotates (ROL ROR RCL RCR SHL SHR SAL SAR) at 8/16/32 bits through all three
// count encodings, and SHLD/SHRD, against a bit-at-a-time reference model of SDM Vol.2B.
import { describe, expect, it } from 'vitest';
import { Harness, DATA } from '../helpers/cpu-harness';
import { CF, PF, AF, ZF, SF, OF, EAX, ECX, EBX } from '../../src/cpu/consts';

type Bits = 8 | 16 | 32;
const MASK: Record<Bits, number> = { 8: 0xff, 16: 0xffff, 32: 0xffffffff };
const NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];

function parity(v: number): number {
  let p = 1;
  for (let b = v & 0xff; b; b >>= 1) p ^= b & 1;
  return p ? PF : 0;
}
const bit = (v: number, n: number) => Math.floor(v / 2 ** n) & 1;

interface RefOut { res: number; cf: number; of: number | null; szp: boolean }

/** Bit-at-a-time model. `count` is the raw count; the CPU masks it to 5 bits. */
function refShift(kind: number, v: number, count: number, cf: number, bits: Bits): RefOut | null {
  const c = count & 0x1f;
  if (c === 0) return null;
  const top = bits - 1;
  let r = v;
  const orig = v;
  let steps = c;
  if (kind === 2 || kind === 3) steps = c % (bits + 1);
  for (let k = 0; k < steps; k++) {
    switch (kind) {
      case 0: { const o = bit(r, top); r = ((r * 2) % 2 ** bits) + o; cf = o; break; }
      case 1: { const o = r & 1; r = Math.floor(r / 2) + o * 2 ** top; cf = o; break; }
      case 2: { const o = bit(r, top); r = ((r * 2) % 2 ** bits) + cf; cf = o; break; }
      case 3: { const o = r & 1; r = Math.floor(r / 2) + cf * 2 ** top; cf = o; break; }
      case 4: case 6: { cf = bit(r, top); r = (r * 2) % 2 ** bits; break; }
      case 5: { cf = r & 1; r = Math.floor(r / 2); break; }
      default: { cf = r & 1; r = Math.floor(r / 2) + bit(r, top) * 2 ** top; break; }
    }
  }
  // ROL/ROR: CF is taken from the result even when the count is a multiple of the size.
  if (kind === 0) cf = r & 1;
  if (kind === 1) cf = bit(r, top);
  let of: number | null = null;
  if (c === 1) {
    switch (kind) {
      case 0: case 2: case 4: case 6: of = bit(r, top) ^ cf; break;
      case 1: of = bit(r, top) ^ bit(r, top - 1); break;
      case 3: of = null; break; // computed by the caller from the pre-rotate state
      case 5: of = bit(orig, top); break;
      default: of = 0;
    }
  }
  return { res: r, cf, of, szp: kind >= 4 };
}

const VALS: Record<Bits, number[]> = {
  8: [0, 1, 0x80, 0x81, 0x7f, 0xff, 0x5a, 0xa5],
  16: [0, 1, 0x8000, 0x8001, 0x7fff, 0xffff, 0x1234, 0xc3a5],
  32: [0, 1, 0x80000000, 0x80000001, 0x7fffffff, 0xffffffff, 0x12345678, 0xc3a55a3c],
};
const COUNTS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255];

describe('group 2 shifts/rotates', () => {
  const h = new Harness().flat32([0xf4]);
  for (const bits of [8, 16, 32] as Bits[]) {
    for (let kind = 0; kind < 8; kind++) {
      it(`${NAMES[kind]} ${bits}-bit, counts ${COUNTS.join(',')} by CL and imm8, 1 by D0/D1`, () => {
        const pre = bits === 16 ? [0x66] : [];
        const w = bits === 8 ? 0 : 1;
        for (const v of VALS[bits]) for (const count of COUNTS) for (const cin of [0, 1]) for (const form of ['cl', 'imm', 'one'] as const) {
          if (form === 'one' && count !== 1) continue;
          // The incoming CF only matters to RCL/RCR and to the flags-unchanged check of a zero count.
          if (cin === 1 && kind !== 2 && kind !== 3 && (count & 0x1f) !== 0 && form !== 'one') continue;
          const code = form === 'cl' ? [...pre, 0xd2 | w, 0xc0 | (kind << 3)]
            : form === 'imm' ? [...pre, 0xc0 | w, 0xc0 | (kind << 3), count & 0xff]
              : [...pre, 0xd0 | w, 0xc0 | (kind << 3)];
          // Seed every flag so that "unchanged" is observable.
          const seed = (cin ? CF : 0) | ZF | PF | SF | (count & 2 ? OF : 0) | AF;
          const hi = bits === 32 ? 0 : 0xdead0000 & ~MASK[bits];
          h.exec(code, { [EAX]: (hi | v) >>> 0, [ECX]: count }, seed);
          const ctx = `${NAMES[kind]}${bits} v=${v.toString(16)} count=${count} cf=${cin} ${form}`;
          const got = bits === 32 ? h.eax : h.eax & MASK[bits];
          expect((h.eax & ~MASK[bits]) >>> 0, `${ctx} upper`).toBe(hi >>> 0);
          const r = refShift(kind, v, count, cin, bits);
          if (r === null) {
            expect(got, ctx).toBe(v);
            expect(h.eflags & (CF | PF | AF | ZF | SF | OF), `${ctx} flags unchanged`).toBe(seed);
            continue;
          }
          expect(got, ctx).toBe(r.res >>> 0);
          const masked = count & 0x1f;
          const cfUndefined = (kind === 4 || kind === 5 || kind === 6) && masked >= bits;
          if (!cfUndefined) expect(h.eflags & CF, `${ctx} CF`).toBe(r.cf ? CF : 0);
          let of = r.of;
          if (kind === 3 && masked === 1) of = bit(v, bits - 1) ^ cin; // RCR: MSB(dest) XOR CF, before
          if (of !== null) expect(h.eflags & OF, `${ctx} OF`).toBe(of ? OF : 0);
          if (r.szp) {
            expect(h.eflags & (SF | ZF | PF), `${ctx} SZP`).toBe((r.res === 0 ? ZF : 0) | (bit(r.res, bits - 1) ? SF : 0) | parity(r.res));
          } else {
            expect(h.eflags & (SF | ZF | PF | AF), `${ctx} rotates keep SZAP`).toBe(seed & (SF | ZF | PF | AF));
          }
        }
      });
    }
  }

  it('shift of a memory operand (shl dword [ebx], 4; sar word [ebx+4], cl)', () => {
    h.w32(DATA, 0x8765_4321);
    h.w32(DATA + 4, 0x1111_8000);
    h.exec([0xc1, 0x23, 0x04, 0x66, 0xd3, 0x7b, 0x04], { [EBX]: DATA, [ECX]: 3 });
    expect(h.r32(DATA)).toBe(0x7654_3210);
    expect(h.r32(DATA + 4)).toBe(0x1111_f000);
    expect(h.eflags & CF).toBe(0);
  });
});

/** SHLD/SHRD reference: shift the (dest, src) concatenation. */
function refDouble(right: boolean, d: number, s: number, count: number, bits: Bits): { res: number; cf: number } {
  let r = d, cf = 0;
  for (let k = 0; k < count; k++) {
    if (right) { cf = r & 1; r = Math.floor(r / 2) + bit(s, k) * 2 ** (bits - 1); }
    else { cf = bit(r, bits - 1); r = (r * 2) % 2 ** bits + bit(s, bits - 1 - k); }
  }
  return { res: r, cf };
}

describe('SHLD / SHRD', () => {
  const h = new Harness().flat32([0xf4]);
  const D = [0, 1, 0x80000000, 0x12345678, 0xffffffff, 0x7fffffff];
  const S = [0, 0xffffffff, 0x9abcdef0, 0x80000001];
  for (const right of [false, true]) {
    for (const bits of [16, 32] as Bits[]) {
      it(`${right ? 'shrd' : 'shld'} ${bits}-bit, imm8 and CL, counts 0..33`, () => {
        const pre = bits === 16 ? [0x66] : [];
        for (const d0 of D) for (const s0 of S) for (let count = 0; count <= 33; count++) for (const byCl of [false, true]) {
          const d = (d0 & MASK[bits]) >>> 0, s = (s0 & MASK[bits]) >>> 0;
          const masked = count & 0x1f;
          if (bits === 16 && masked > 16) continue; // undefined result (SDM Vol.2B SHLD)
          // shld/shrd eax, ecx, imm8 / cl  — ModRM C8: reg=ecx, rm=eax
          const op = (right ? 0xac : 0xa4) | (byCl ? 1 : 0);
          const code = [...pre, 0x0f, op, 0xc8, ...(byCl ? [] : [count])];
          const seed = CF | ZF | SF | PF | OF;
          h.exec(code, { [EAX]: d, [ECX]: byCl ? ((s & ~0xff) | count) >>> 0 : s }, seed);
          const src = byCl ? ((((s & ~0xff) | count) >>> 0) & MASK[bits]) >>> 0 : s;
          const ctx = `${right ? 'shrd' : 'shld'}${bits} d=${d.toString(16)} s=${src.toString(16)} n=${count} cl=${byCl}`;
          const got = h.eax & MASK[bits];
          if (masked === 0) {
            expect(got >>> 0, ctx).toBe(d);
            expect(h.eflags & seed, ctx).toBe(seed);
            continue;
          }
          const r = refDouble(right, d, src, masked, bits);
          expect(got >>> 0, ctx).toBe(r.res);
          expect(h.eflags & CF, `${ctx} CF`).toBe(r.cf ? CF : 0);
          expect(h.eflags & (ZF | SF | PF), `${ctx} SZP`).toBe((r.res === 0 ? ZF : 0) | (bit(r.res, bits - 1) ? SF : 0) | parity(r.res));
          if (masked === 1) expect(h.eflags & OF, `${ctx} OF`).toBe(bit(r.res, bits - 1) !== bit(d, bits - 1) ? OF : 0);
        }
      });
    }
  }
  it('shld to memory', () => {
    h.w32(DATA, 0x12345678);
    h.exec([0x0f, 0xa4, 0x0b, 0x08], { [EBX]: DATA, [ECX]: 0xab000000 }); // shld [ebx], ecx, 8
    expect(h.r32(DATA)).toBe(0x345678ab);
  });
});
