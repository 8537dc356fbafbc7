// A tiny fixed-precision binary floating point (BigInt significand) used only to
// evaluate the x87 transcendental instructions far more precisely than the 64-bit
// result needs, so that the single final rounding is (almost always) correct.
// Value = m * 2^e, m signed, |m| normalised to PREC bits (or 0).

import { bitLen } from './softfloat.js';

export interface BF { m: bigint; e: number }

export const PREC = 192;
const BPREC = BigInt(PREC);

export function bf(m: bigint, e: number): BF {
  if (m === 0n) return { m: 0n, e: 0 };
  const neg = m < 0n;
  let a = neg ? -m : m;
  const n = bitLen(a);
  if (n > PREC) { a >>= BigInt(n - PREC); e += n - PREC; }
  else if (n < PREC) { a <<= BigInt(PREC - n); e -= PREC - n; }
  return { m: neg ? -a : a, e };
}
export const bfInt = (v: number | bigint): BF => bf(BigInt(v), 0);
export const isZero = (a: BF): boolean => a.m === 0n;
export const neg = (a: BF): BF => ({ m: -a.m, e: a.e });
export const abs = (a: BF): BF => ({ m: a.m < 0n ? -a.m : a.m, e: a.e });
export const mulPow2 = (a: BF, k: number): BF => ({ m: a.m, e: a.e + k });
/** Binary exponent of the leading bit (value in [2^x, 2^(x+1))). */
export const ilog2 = (a: BF): number => a.e + PREC - 1;

export function mul(a: BF, b: BF): BF { return bf(a.m * b.m, a.e + b.e); }
export function div(a: BF, b: BF): BF { return bf((a.m << BPREC) / b.m, a.e - b.e - PREC); }
export function add(a: BF, b: BF): BF {
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  if (a.e < b.e) { const t = a; a = b; b = t; }
  const d = a.e - b.e;
  if (d > 2 * PREC) return a;
  return bf((a.m << BigInt(d)) + b.m, b.e);
}
export function sub(a: BF, b: BF): BF { return add(a, neg(b)); }
export function cmpAbs(a: BF, b: BF): number {
  if (a.m === 0n || b.m === 0n) return a.m === 0n ? (b.m === 0n ? 0 : -1) : 1;
  const x = ilog2(a), y = ilog2(b);
  if (x !== y) return x > y ? 1 : -1;
  const am = a.m < 0n ? -a.m : a.m, bm = b.m < 0n ? -b.m : b.m;
  return am === bm ? 0 : am > bm ? 1 : -1;
}
function tinyRelative(term: BF, ref: BF): boolean {
  return term.m === 0n || ilog2(term) < ilog2(ref) - PREC - 4;
}

/** sin(x) by Taylor series; |x| <= 1 for fast convergence. */
export function sinS(x: BF): BF {
  const x2 = mul(x, x);
  let term = x, sum = x;
  for (let k = 1; k < 200; k++) {
    term = neg(div(mul(term, x2), bfInt((2 * k) * (2 * k + 1))));
    if (tinyRelative(term, sum)) break;
    sum = add(sum, term);
  }
  return sum;
}
export function cosS(x: BF): BF {
  const x2 = mul(x, x);
  let term = bfInt(1), sum = term;
  for (let k = 1; k < 200; k++) {
    term = neg(div(mul(term, x2), bfInt((2 * k - 1) * (2 * k))));
    if (tinyRelative(term, sum)) break;
    sum = add(sum, term);
  }
  return sum;
}
/** z + z*q/3 + z*q^2/5 + ... until the terms no longer matter (q = z^2 for atanh, -z^2 for atan). */
function oddPowerSeries(z: BF, q: BF): BF {
  let p = z, sum = z;
  for (let k = 1; k < 400; k++) {
    p = mul(p, q);
    const term = div(p, bfInt(2 * k + 1));
    if (tinyRelative(term, sum)) break;
    sum = add(sum, term);
  }
  return sum;
}
/** atanh(z) = z + z^3/3 + ... ; |z| <= 1/3. */
export function atanhS(z: BF): BF {
  return oddPowerSeries(z, mul(z, z));
}
/** atan(z) = z - z^3/3 + ... ; |z| <= 1/4. */
function atanS(z: BF): BF {
  return oddPowerSeries(z, neg(mul(z, z)));
}
export function sqrtBF(a: BF): BF {
  // integer sqrt of m * 2^e with an even exponent and 2*PREC bits
  let m = a.m, e = a.e;
  if (e & 1) { m <<= 1n; e -= 1; }
  m <<= BPREC; e -= PREC;
  let x = 1n << BigInt((bitLen(m) >> 1) + 1);
  for (;;) { const y = (x + m / x) >> 1n; if (y >= x) break; x = y; }
  return bf(x, e / 2);
}
const ONE = bfInt(1);

/** atan(x) for any finite x. */
export function atanBF(x: BF): BF {
  if (x.m === 0n) return x;
  const negx = x.m < 0n;
  let a = abs(x);
  let flip = false;
  if (cmpAbs(a, ONE) > 0) { a = div(ONE, a); flip = true; }
  // halve the argument: atan(a) = 2 atan(a / (1 + sqrt(1 + a^2)))
  let doublings = 0;
  while (ilog2(a) >= -3) {
    a = div(a, add(ONE, sqrtBF(add(ONE, mul(a, a)))));
    doublings++;
  }
  let r = mulPow2(atanS(a), doublings);
  if (flip) r = sub(mulPow2(PI, -1), r);
  return negx ? neg(r) : r;
}

/** e^t - 1 for |t| <= 1 (relative precision kept for tiny t). */
export function expm1S(t: BF): BF {
  let term = t, sum = t;
  for (let k = 2; k < 400; k++) {
    term = div(mul(term, t), bfInt(k));
    if (tinyRelative(term, sum)) break;
    sum = add(sum, term);
  }
  return sum;
}

/** ln(x) for x > 0. */
export function lnBF(x: BF): BF {
  // x = f * 2^k with f in [sqrt(1/2), sqrt(2))
  let k = ilog2(x);
  let f = mulPow2(x, -k);
  if (cmpAbs(f, SQRT2) > 0) { f = mulPow2(f, -1); k++; }
  const z = div(sub(f, ONE), add(f, ONE));
  return add(mulPow2(atanhS(z), 1), mul(bfInt(k), LN2));
}
/** ln(1 + x) for x > -1, relative precision kept for tiny x. */
export function ln1pBF(x: BF): BF {
  if (x.m === 0n) return x;
  if (ilog2(x) > -3) return lnBF(add(ONE, x));
  return mulPow2(atanhS(div(x, add(bfInt(2), x))), 1);
}

// Constants, computed once: pi by Machin's formula, ln 2 = 2 atanh(1/3).
function atanInv(n: number): BF { return atanS(div(ONE, bfInt(n))); }
export const PI: BF = sub(mulPow2(atanInv(5), 4), mulPow2(atanInv(239), 2));
export const LN2: BF = mulPow2(atanhS(div(ONE, bfInt(3))), 1);
export const SQRT2: BF = sqrtBF(bfInt(2));
export const LN10: BF = add(mul(bfInt(3), LN2), lnBF(mulPow2(bfInt(5), -2)));
