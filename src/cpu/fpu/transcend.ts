// x87 transcendental instructions and constants (SDM Vol.1 §8.3.8-8.3.10, Vol.2A
// instruction pages). Evaluated with the 192-bit BigInt float of bigfloat.ts and
// rounded once to the 64-bit significand (precision control does not apply to
// these instructions, §8.1.5.2). Intel specifies an error of at most 1 ulp, so a
// correctly rounded result is always a valid answer, and agrees with the host
// within 1 ulp.

import * as B from './bigfloat.js';
import type { BF } from './bigfloat.js';
import {
  type F80, type FpEnv, Cls, classify, isNaNCls, propagateNaN, quiet, indefinite, inf, zero, copy,
  roundPack, unpackValue, canon, FE_IE, FE_DE, FE_ZE, FE_PE, RC_NEAR, RC_UP, BIAS, bitLen,
} from './softfloat.js';

function toBF(a: F80): BF {
  const [m, q] = unpackValue(a);
  return B.bf(a.s ? -m : m, q);
}

/** Rounds an (inexact) BigFloat to an 80-bit value; PE is always raised. */
function fromBF(env: FpEnv, x: BF): F80 {
  if (x.m === 0n) return zero(0);
  const s = x.m < 0n ? 1 : 0;
  const m = ((s ? -x.m : x.m) << 1n) | 1n; // sticky: the true value is never exactly representable here
  return roundPack(env, s, m, x.e - 1, 64);
}

/** Masked invalid response; IE suppresses DE (as in softfloat.ts, host-verified). */
function invalid(env: FpEnv): F80 { env.flags = (env.flags & ~FE_DE) | FE_IE; return indefinite(); }

/** Single-operand prelude: unsupported -> invalid, NaN -> quieted, denormal -> DE. */
function prelude1(env: FpEnv, a: F80, ca: Cls): F80 | null {
  if (ca === Cls.Unsupported) return invalid(env);
  if (isNaNCls(ca)) { if (ca === Cls.SNaN) env.flags |= FE_IE; return quiet(a); }
  if (ca === Cls.Denormal) env.flags |= FE_DE;
  return null;
}

// ---------------------------------------------------------------------------
// Argument reduction for FSIN/FCOS/FSINCOS/FPTAN.
//
// Intel reduces the argument with a 66-bit approximation of pi (SDM Vol.1
// §8.3.10 "Transcendental Instruction Accuracy"), so for large arguments, or
// arguments close to a multiple of pi, the result is the function of
// x - k*(P66/2), not of the exactly reduced argument. We model that exactly:
// the reduction is done in exact integer arithmetic with P66.

/** pi truncated to 66 significant bits, scaled by 2^64: pi ~= PI66 / 2^64. */
const PI66 = (0xc90fdaa22168c234n << 2n) | 3n;

/** Returns [k mod 4, r] with x = k * P66/2 + r, |r| <= P66/4. */
function reduce(a: F80): [number, BF] {
  const [m, q] = unpackValue(a);
  if (q < -65) return [0, toBF(a)]; // |x| < 1/2
  // x = m * 2^q = X * 2^-65 with X = m << (q + 65); half-pi = PI66 * 2^-65
  const X = m << BigInt(q + 65);
  let k = (2n * X + PI66) / (2n * PI66);
  const R = X - k * PI66;
  let r = B.bf(R, -65);
  if (a.s) { r = B.neg(r); k = -k; }
  return [Number(((k % 4n) + 4n) % 4n), r];
}

const TWO63 = 63 + BIAS;
/** |x| >= 2^63: out of range for FSIN/FCOS/FPTAN/FSINCOS (C2 = 1, operand unchanged). */
export function trigOutOfRange(a: F80): boolean {
  const c = classify(a);
  return c === Cls.Normal && a.e >= TWO63;
}

function sinCosBF(k: number, r: B.BF, wantSin: boolean): BF {
  const idx = wantSin ? k : (k + 1) & 3;
  switch (idx) {
    case 0: return B.sinS(r);
    case 1: return B.cosS(r);
    case 2: return B.neg(B.sinS(r));
    default: return B.neg(B.cosS(r));
  }
}

export function fsin(env: FpEnv, a: F80): F80 {
  const ca = classify(a);
  const pre = prelude1(env, a, ca);
  if (pre) return pre;
  if (ca === Cls.Inf) return invalid(env);
  if (ca === Cls.Zero) return copy(a);
  const [k, r] = reduce(a);
  return fromBF(env, sinCosBF(k, r, true));
}
export function fcos(env: FpEnv, a: F80): F80 {
  const ca = classify(a);
  const pre = prelude1(env, a, ca);
  if (pre) return pre;
  if (ca === Cls.Inf) return invalid(env);
  if (ca === Cls.Zero) return { s: 0, e: BIAS, m: 1n << 63n };
  const [k, r] = reduce(a);
  return fromBF(env, sinCosBF(k, r, false));
}
/** Returns [sin, cos]. */
export function fsincos(env: FpEnv, a: F80): [F80, F80] {
  const ca = classify(a);
  const pre = prelude1(env, a, ca);
  if (pre) return [pre, copy(pre)];
  if (ca === Cls.Inf) { const i = invalid(env); return [i, copy(i)]; }
  if (ca === Cls.Zero) return [copy(a), { s: 0, e: BIAS, m: 1n << 63n }];
  const [k, r] = reduce(a);
  const s = fromBF(env, sinCosBF(k, r, true));
  const c = fromBF(env, sinCosBF(k, r, false));
  return [s, c];
}
export function ftan(env: FpEnv, a: F80): F80 {
  const ca = classify(a);
  const pre = prelude1(env, a, ca);
  if (pre) return pre;
  if (ca === Cls.Inf) return invalid(env);
  if (ca === Cls.Zero) return copy(a);
  const [k, r] = reduce(a);
  const s = B.sinS(r), c = B.cosS(r);
  return fromBF(env, (k & 1) ? B.neg(B.div(c, s)) : B.div(s, c));
}

/** FPATAN: atan2(y = ST(1), x = ST(0)) (SDM Vol.2A FPATAN Table 3-30). */
export function fpatan(env: FpEnv, y: F80, x: F80): F80 {
  const cy = classify(y), cx = classify(x);
  if (cy === Cls.Unsupported || cx === Cls.Unsupported) return invalid(env);
  if (isNaNCls(cy) || isNaNCls(cx)) return propagateNaN(env, x, cx, y, cy);
  if (cy === Cls.Denormal || cx === Cls.Denormal) env.flags |= FE_DE;
  const pi = B.PI, s = y.s;
  const sgn = (v: BF): BF => (s ? B.neg(v) : v);
  if (cy === Cls.Zero) {
    if (x.s === 0) return zero(s);
    return fromBF(env, sgn(pi));
  }
  if (cy === Cls.Inf) {
    if (cx === Cls.Inf) return fromBF(env, sgn(x.s ? B.mulPow2(B.mul(pi, B.bfInt(3)), -2) : B.mulPow2(pi, -2)));
    return fromBF(env, sgn(B.mulPow2(pi, -1)));
  }
  if (cx === Cls.Inf) return x.s ? fromBF(env, sgn(pi)) : zero(s);
  if (cx === Cls.Zero) return fromBF(env, sgn(B.mulPow2(pi, -1)));
  const ya = B.abs(toBF(y)), xa = B.abs(toBF(x));
  let r = B.atanBF(B.div(ya, xa));
  if (x.s) r = B.sub(pi, r);
  return fromBF(env, sgn(r));
}

/** F2XM1: 2^x - 1, defined for -1 <= x <= 1. */
export function f2xm1(env: FpEnv, a: F80): F80 {
  const ca = classify(a);
  const pre = prelude1(env, a, ca);
  if (pre) return pre;
  if (ca === Cls.Zero) return copy(a);
  if (ca === Cls.Inf) return a.s ? { s: 1, e: BIAS, m: 1n << 63n } : inf(0);
  // Outside the architectural domain -1..+1 the host returns the operand unchanged
  // and reports PE (Intel leaves the result undefined, SDM Vol.2A F2XM1).
  if (a.e >= BIAS) {
    env.flags |= FE_PE; env.up = false;
    if (a.e > BIAS || a.m !== 1n << 63n) return canon(a);
    return a.s ? { s: 1, e: BIAS - 1, m: 1n << 63n } : copy(a); // 2^-1 - 1 = -0.5, 2^1 - 1 = 1 (PE set, as on the host)
  }
  return fromBF(env, B.expm1S(B.mul(toBF(a), B.LN2)));
}


/** log2 of a positive finite x, as a BigFloat (exact exponent part added separately). */
function log2BF(a: F80): BF {
  const [m, q] = unpackValue(a);
  const e = q + 63; // a = (m / 2^63) * 2^e, f in [1, 2)
  const f = B.bf(m, -63);
  return B.add(B.bfInt(e), B.div(B.lnBF(f), B.LN2));
}

/** FYL2X: y * log2(x), y = ST(1), x = ST(0) (SDM Vol.2A FYL2X Table 3-48). */
export function fyl2x(env: FpEnv, y: F80, x: F80): F80 {
  const cy = classify(y), cx = classify(x);
  if (cy === Cls.Unsupported || cx === Cls.Unsupported) return invalid(env);
  if (isNaNCls(cy) || isNaNCls(cx)) return propagateNaN(env, x, cx, y, cy);
  if (x.s === 1 && cx !== Cls.Zero) return invalid(env);
  if (cy === Cls.Denormal || cx === Cls.Denormal) env.flags |= FE_DE;
  if (cx === Cls.Zero) {
    if (cy === Cls.Zero) return invalid(env);
    if (cy !== Cls.Inf) env.flags = (env.flags & ~FE_DE) | FE_ZE; // ZE suppresses DE (host-verified)
    return inf(y.s ^ 1);
  }
  if (cx === Cls.Inf) {
    if (cy === Cls.Zero) return invalid(env);
    return inf(y.s);
  }
  // x finite positive
  const isOne = x.e === BIAS && x.m === 1n << 63n;
  const below = x.e < BIAS || (x.e === 0);
  if (cy === Cls.Inf) {
    if (isOne) return invalid(env);
    return inf(y.s ^ (below ? 1 : 0));
  }
  if (isOne) return zero(y.s);
  if (cy === Cls.Zero) return zero(y.s ^ (below ? 1 : 0));
  return fromBF(env, B.mul(toBF(y), log2BF(x)));
}

/** FYL2XP1: y * log2(x + 1), y = ST(1), x = ST(0); |x| < 1 - sqrt(2)/2. */
export function fyl2xp1(env: FpEnv, y: F80, x: F80): F80 {
  const cy = classify(y), cx = classify(x);
  if (cy === Cls.Unsupported || cx === Cls.Unsupported) return invalid(env);
  if (isNaNCls(cy) || isNaNCls(cx)) return propagateNaN(env, x, cx, y, cy);
  if (cy === Cls.Denormal || cx === Cls.Denormal) env.flags |= FE_DE;
  if (cx === Cls.Zero) {
    if (cy === Cls.Inf) return invalid(env);
    return zero(y.s ^ x.s);
  }
  if (cx === Cls.Inf) {
    if (x.s || cy === Cls.Zero) return invalid(env);
    return inf(y.s);
  }
  if (cy === Cls.Inf) return inf(y.s ^ x.s);
  if (cy === Cls.Zero) return zero(y.s ^ x.s);
  const xb = toBF(x);
  if (x.s && x.e >= BIAS) {
    // x <= -1: outside the domain (Intel: undefined). The host returns x unchanged and reports PE.
    env.flags |= FE_PE; env.up = false;
    return canon(x);
  }
  return fromBF(env, B.mul(toBF(y), B.div(B.ln1pBF(xb), B.LN2)));
}

// ---------------------------------------------------------------------------
// Constants (FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2). The FPU holds each as a
// 66-bit constant and rounds it to 64 bits according to RC, without raising PE
// (SDM Vol.2A FLD1/FLDL2T/... "IA-32 Architecture Compatibility", and Vol.1
// §8.3.8 "Pi").

function c66(x: BF): [bigint, number] {
  // truncate to 66 significant bits: value = m66 * 2^q
  const n = B.PREC;
  // Keep 66 bits plus a sticky bit: rounding the *exact* constant to 64 bits is
  // what the host does (FLDLG2 in round-to-nearest ends ...F799; a tie-to-even
  // on a truncated 66-bit constant would give ...F798).
  const m66 = x.m >> BigInt(n - 66);
  const sticky = (x.m & ((1n << BigInt(n - 66)) - 1n)) !== 0n ? 1n : 0n;
  return [(m66 << 1n) | sticky, x.e + n - 67];
}
const L2T = c66(B.div(B.LN10, B.LN2));
const L2E = c66(B.div(B.bfInt(1), B.LN2));
const PIC = c66(B.PI);
const LG2 = c66(B.div(B.LN2, B.LN10));
const LN2C = c66(B.LN2);

/** Constant index: 0 L2T, 1 L2E, 2 PI, 3 LG2, 4 LN2. */
export function loadConst(rc: number, which: number): F80 {
  const [m66, q] = [L2T, L2E, PIC, LG2, LN2C][which]!;
  let m = m66 >> 3n;
  const low = m66 & 7n;
  if (low !== 0n) {
    if ((rc === RC_NEAR && (low > 4n || (low === 4n && (m & 1n) === 1n))) || rc === RC_UP) m += 1n;
  }
  const n = bitLen(m);
  if (n > 64) { m >>= 1n; return { s: 0, e: q + 3 + 64 + BIAS, m }; }
  return { s: 0, e: q + 3 + 63 + BIAS, m };
}
