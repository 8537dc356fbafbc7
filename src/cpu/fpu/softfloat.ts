// Software 80-bit extended-precision arithmetic with x87 semantics.
//
// A value is { s, e, m }: sign bit, 15-bit biased exponent field, and the 64-bit
// significand field *including* the explicit integer bit (bit 63), exactly as the
// register holds it (SDM Vol.1 §4.2.2, Figure 4-3). Keeping the raw fields means
// every encoding — pseudo-denormals, unnormals, pseudo-NaNs, pseudo-infinities —
// survives a load/store round trip bit for bit.
//
// Arithmetic is done exactly on BigInt significands and then rounded once by
// `roundCore` (guard/round/sticky are implicit: the exact value, or a value with a
// set sticky bit below every bit that can matter, is rounded in one step).
//
// Exceptions are accumulated into an `FpEnv` (flags) together with the "rounded
// up" indication that becomes C1 (SDM Vol.1 §8.1.3.3). The caller (x87.ts) decides
// what to do with unmasked exceptions; the functions here always compute the
// masked response, except that for register destinations unmasked overflow and
// underflow deliver the exponent-wrapped result of SDM Vol.1 §4.9.2.

export interface F80 {
  /** Sign bit, 0 or 1. */
  s: number;
  /** Biased exponent field, 0..0x7fff. */
  e: number;
  /** 64-bit significand field, explicit integer bit at bit 63. */
  m: bigint;
}

export const FE_IE = 0x01, FE_DE = 0x02, FE_ZE = 0x04, FE_OE = 0x08, FE_UE = 0x10, FE_PE = 0x20;

/** Rounding control values (control word bits 10-11). */
export const RC_NEAR = 0, RC_DOWN = 1, RC_UP = 2, RC_ZERO = 3;

export class FpEnv {
  /** Control word in effect (masks, PC, RC). */
  cw = 0x037f;
  /** Accumulated exception flags (FE_*). */
  flags = 0;
  /** The last inexact rounding increased the magnitude (becomes C1). */
  up = false;
  get rc(): number { return (this.cw >> 10) & 3; }
  /** Significand precision selected by PC (SDM Vol.1 §8.1.5.2). PC=1 is reserved; treat as 64. */
  get pcBits(): number { const pc = (this.cw >> 8) & 3; return pc === 0 ? 24 : pc === 2 ? 53 : 64; }
  masked(flag: number): boolean { return (this.cw & flag) !== 0; }
  begin(cw: number): void { this.cw = cw; this.flags = 0; this.up = false; }
}

/** Operand classes. */
export const enum Cls { Zero, Denormal, Normal, Inf, QNaN, SNaN, Unsupported }

export const BIAS = 16383;
const BIT63 = 1n << 63n;
const BIT62 = 1n << 62n;
const M64 = (1n << 64n) - 1n;
const M63 = (1n << 63n) - 1n;

export function f80(s: number, e: number, m: bigint): F80 { return { s, e, m }; }
export function copy(a: F80): F80 { return { s: a.s, e: a.e, m: a.m }; }
export function zero(s: number): F80 { return { s, e: 0, m: 0n }; }
export function inf(s: number): F80 { return { s, e: 0x7fff, m: BIT63 }; }
/** The "real indefinite" QNaN, FFFF C0000000 00000000 (SDM Vol.1 §4.8.3.7). */
export function indefinite(): F80 { return { s: 1, e: 0x7fff, m: 0xc000000000000000n }; }
export const ONE: F80 = { s: 0, e: BIAS, m: BIT63 };

const QBITS = BIT63 | BIT62;
/** Classification by comparisons only (no BigInt allocation). */
export function classify(a: F80): Cls {
  const e = a.e, m = a.m;
  if (e === 0x7fff) {
    if (m < BIT63) return Cls.Unsupported; // pseudo-infinity / pseudo-NaN
    if (m === BIT63) return Cls.Inf;
    return m >= QBITS ? Cls.QNaN : Cls.SNaN;
  }
  if (e === 0) return m === 0n ? Cls.Zero : Cls.Denormal; // includes pseudo-denormals (bit 63 set)
  return m >= BIT63 ? Cls.Normal : Cls.Unsupported; // unnormal
}
export function isNaNCls(c: Cls): boolean { return c === Cls.QNaN || c === Cls.SNaN; }

/** 2^k, 2^k - 1 and BigInt(k) for k = 0..511: avoids allocations on the common paths. */
const POW2: bigint[] = [], MASK: bigint[] = [], BI: bigint[] = [];
for (let k = 0; k < 512; k++) { POW2.push(1n << BigInt(k)); MASK.push((1n << BigInt(k)) - 1n); BI.push(BigInt(k)); }
const big = (k: number): bigint => (k < 512 ? BI[k]! : BigInt(k));
const pow2 = (k: number): bigint => (k < 512 ? POW2[k]! : 1n << BigInt(k));
const mask = (k: number): bigint => (k < 512 ? MASK[k]! : (1n << BigInt(k)) - 1n);

/** Number of significant bits of m >= 0. */
export function bitLen(m: bigint): number {
  if (m === 0n) return 0;
  if (m >= POW2[511]!) {
    const h = m.toString(16);
    return (h.length - 1) * 4 + (32 - Math.clz32(parseInt(h[0]!, 16)));
  }
  // binary search for the largest k with 2^k <= m
  let lo = 0, hi = 511;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (m >= POW2[mid]!) lo = mid; else hi = mid - 1;
  }
  return lo + 1;
}

/**
 * Unpacks a finite nonzero value to an exact (m, q) with value = m * 2^q and m
 * normalised to bit 63. Denormals and pseudo-denormals use exponent 1 - BIAS
 * (SDM Vol.1 §8.2.2: pseudo-denormals are treated like denormals).
 */
let uM = 0n, uQ = 0;
function unpack(a: F80): void {
  let m = a.m;
  let q = (a.e === 0 ? 1 : a.e) - BIAS - 63;
  if (m < BIT63) { const n = bitLen(m); m <<= BI[64 - n]!; q -= 64 - n; }
  uM = m; uQ = q;
}
/** Unbiased exponent of the normalised value (for FPREM / FXTRACT). */
function normExp(a: F80): number { unpack(a); return uQ + 63; }

// ---------------------------------------------------------------------------
// Rounding

/**
 * Outputs of roundCore (like uM/uQ for unpack): module-level scratch "return
 * registers" that avoid allocating a result object on every operation. They hold
 * no state between calls (every call is synchronous and reads them immediately),
 * so several machines in one process do not interfere.
 */
let rcE = 0;
let rcSig = 0n;

/**
 * Rounds value (-1)^s * m * 2^q (m > 0; its low bit may be a sticky bit) to p
 * significant bits in a format with the given bias and largest finite biased
 * exponent. Tininess is detected after rounding (see below). For register
 * destinations (`reg`) unmasked underflow/overflow wrap the exponent by 24576
 * (SDM Vol.1 §8.4 / §4.9.1.4-5); memory destinations always get the masked
 * response and the caller discards it when the exception is unmasked.
 * Result: rcE = biased exponent (maxE+1 = infinity), rcSig = significand (p bits
 * with the integer bit, or fewer for denormals).
 */
function roundCore(env: FpEnv, s: number, m: bigint, q: number, p: number, bias: number, maxE: number, reg: boolean): void {
  const n = bitLen(m);
  let E = q + n - 1 + bias;
  let wrapped = false;
  // Tininess is detected *after* rounding (host-verified: a product just below
  // 2^-16382 that rounds to the smallest normal reports no UE, and with UE
  // unmasked is not wrapped). Only E = 0 can round up into the normal range.
  const tinyAfter = E < 1 && !(E === 0 && carriesOut(env, s, m, n - p, p));
  if (tinyAfter && reg && !env.masked(FE_UE)) {
    if (E + 24576 < 1) {
      // Too far out of range for the wrap (e.g. FSCALE): signed zero, UE and PE (host-verified).
      env.flags |= FE_UE | FE_PE; env.up = false; rcE = 0; rcSig = 0n; return;
    }
    E += 24576; q += 24576; env.flags |= FE_UE; wrapped = true;
  } else if (E > maxE && reg && !env.masked(FE_OE)) {
    if (E - 24576 > maxE) {
      // Too far out of range for the wrap: signed infinity, OE, PE and C1 (host-verified).
      env.flags |= FE_OE | FE_PE; env.up = true; rcE = maxE + 1; rcSig = 1n << BigInt(p - 1); return;
    }
    E -= 24576; q -= 24576; env.flags |= FE_OE; wrapped = true;
  }
  const tiny = tinyAfter && !wrapped;
  let d = n - p;
  if (tiny) d += 1 - E;
  let keep: bigint;
  let inexact = false, up = false;
  if (d <= 0) keep = d === 0 ? m : m << big(-d);
  else {
    if (d > n + 1) d = n + 1;
    keep = m >> big(d);
    const rem = m & mask(d);
    if (rem !== 0n) {
      inexact = true;
      const rc = env.rc;
      if (rc === RC_NEAR) {
        const half = pow2(d - 1);
        up = rem > half || (rem === half && (keep & 1n) === 1n);
      } else if (rc === RC_DOWN) up = s === 1;
      else if (rc === RC_UP) up = s === 0;
      if (up) keep += 1n;
    }
  }
  if (!tiny) {
    if (keep >= POW2[p]!) { keep >>= 1n; E++; }
  } else {
    E = keep >= POW2[p - 1]! ? 1 : 0;
    // Masked underflow is reported only when also inexact; unmasked (memory
    // destinations, which do not wrap) whenever the result is tiny (§4.9.1.5).
    if (inexact || !env.masked(FE_UE)) env.flags |= FE_UE;
  }
  if (E > maxE) {
    if (reg && !env.masked(FE_OE) && !wrapped && E - 24576 <= maxE) {
      // overflow only through the rounding carry: wrap as well
      env.flags |= FE_OE; E -= 24576;
    } else if (!wrapped) {
      env.flags |= FE_OE | FE_PE;
      const rc = env.rc;
      const toInf = rc === RC_NEAR || (rc === RC_UP && s === 0) || (rc === RC_DOWN && s === 1);
      if (toInf) { rcE = maxE + 1; rcSig = 1n << BigInt(p - 1); env.up = true; }
      else { rcE = maxE; rcSig = (1n << BigInt(p)) - 1n; env.up = false; }
      return;
    }
  }
  if (inexact) { env.flags |= FE_PE; env.up = up; }
  rcE = E; rcSig = keep;
}

/** Would rounding m to p bits (dropping d bits) carry out of the top bit? */
function carriesOut(env: FpEnv, s: number, m: bigint, d: number, p: number): boolean {
  if (d <= 0) return false;
  const bd = BigInt(d);
  const keep = m >> bd;
  if (keep !== (1n << BigInt(p)) - 1n) return false;
  const rem = m & ((1n << bd) - 1n);
  if (rem === 0n) return false;
  const rc = env.rc;
  if (rc === RC_NEAR) { const half = 1n << (bd - 1n); return rem >= half; } // keep is odd: a tie rounds up
  if (rc === RC_DOWN) return s === 1;
  if (rc === RC_UP) return s === 0;
  return false;
}

/** Rounds (-1)^s * m * 2^q into an 80-bit register value with p-bit precision. */
export function roundPack(env: FpEnv, s: number, m: bigint, q: number, p = 64): F80 {
  if (m === 0n) return zero(s);
  roundCore(env, s, m, q, p, BIAS, 0x7ffe, true);
  if (rcE === 0x7fff) return inf(s);
  return { s, e: rcE, m: p === 64 ? rcSig : rcSig << BI[64 - p]! };
}

/** Exact packing of an exactly representable value (integers, remainders). */
function packExact(env: FpEnv, s: number, m: bigint, q: number): F80 { return roundPack(env, s, m, q, 64); }

// ---------------------------------------------------------------------------
// NaN handling

export function quiet(a: F80): F80 { return { s: a.s, e: a.e, m: a.m | BIT62 }; }

/**
 * NaN result of a two-operand instruction, SDM Vol.1 Table 4-7 (x87 column):
 * SNaN+QNaN -> the QNaN; two of the same kind -> the larger significand;
 * one NaN -> that NaN, quieted. Ties go to the operand with the positive sign.
 */
export function propagateNaN(env: FpEnv, a: F80, ca: Cls, b: F80, cb: Cls): F80 {
  if (ca === Cls.SNaN || cb === Cls.SNaN) env.flags |= FE_IE;
  const an = isNaNCls(ca), bn = isNaNCls(cb);
  if (an && bn) {
    if (ca !== cb) return quiet(ca === Cls.QNaN ? a : b);
    const am = a.m & M63, bm = b.m & M63;
    if (am > bm) return quiet(a);
    if (bm > am) return quiet(b);
    return quiet(a.s <= b.s ? a : b);
  }
  return quiet(an ? a : b);
}

/**
 * Masked invalid-operation response. A denormal operand of an invalid operation
 * does not also report DE (IE has priority, SDM Vol.1 §4.9.2; confirmed on the host).
 */
function invalid(env: FpEnv): F80 { env.flags = (env.flags & ~FE_DE) | FE_IE; return indefinite(); }

/**
 * Pseudo-denormals (exponent 0, integer bit 1) are read as the normal number with
 * exponent 1 (SDM Vol.1 §8.2.2); an operand passed through unchanged comes back
 * in that canonical form (host-verified for FPREM).
 */
export function canon(a: F80): F80 {
  return a.e === 0 && (a.m & BIT63) !== 0n ? { s: a.s, e: 1, m: a.m } : { s: a.s, e: a.e, m: a.m };
}

/**
 * Common pre-computation checks for two-operand arithmetic: unsupported formats
 * and NaNs (result returned), denormal operands (DE flagged). Returns null when
 * the caller must compute.
 */
function prelude2(env: FpEnv, a: F80, ca: Cls, b: F80, cb: Cls): F80 | null {
  if (ca === Cls.Unsupported || cb === Cls.Unsupported) return invalid(env);
  if (isNaNCls(ca) || isNaNCls(cb)) return propagateNaN(env, a, ca, b, cb);
  if (ca === Cls.Denormal || cb === Cls.Denormal) env.flags |= FE_DE;
  return null;
}

// ---------------------------------------------------------------------------
// Arithmetic

/** a + b (negB: a - b). p = precision-control bits. */
export function add(env: FpEnv, a: F80, b: F80, negB: boolean, p: number): F80 {
  const ca = classify(a), cb = classify(b);
  const pre = prelude2(env, a, ca, b, cb);
  if (pre) return pre;
  const bs = negB ? b.s ^ 1 : b.s;
  if (ca === Cls.Inf || cb === Cls.Inf) {
    if (ca === Cls.Inf && cb === Cls.Inf) return a.s === bs ? inf(a.s) : invalid(env);
    return ca === Cls.Inf ? inf(a.s) : inf(bs);
  }
  const rd = env.rc === RC_DOWN;
  if (ca === Cls.Zero && cb === Cls.Zero) return zero(a.s === bs ? a.s : rd ? 1 : 0);
  if (cb === Cls.Zero) { unpack(a); return roundPack(env, a.s, uM, uQ, p); }
  if (ca === Cls.Zero) { unpack(b); return roundPack(env, bs, uM, uQ, p); }
  unpack(a); let am = uM, aq = uQ;
  unpack(b); let bm = uM, bq = uQ;
  let as = a.s, bss = bs;
  if (aq < bq || (aq === bq && am < bm)) { const tm = am; am = bm; bm = tm; const tq = aq; aq = bq; bq = tq; const ts = as; as = bss; bss = ts; }
  // |a| >= |b| now. Align b to a; beyond 130 bits b only contributes a sticky bit.
  const diff = aq - bq;
  let M: bigint, q: number;
  if (diff > 130) {
    M = am << 132n; q = aq - 132;
    M = as === bss ? M + 1n : M - 1n;
  } else {
    M = diff === 0 ? am : am << BI[diff]!; q = bq;
    M = as === bss ? M + bm : M - bm;
  }
  if (M === 0n) return zero(rd ? 1 : 0);
  return roundPack(env, as, M, q, p);
}

export function mul(env: FpEnv, a: F80, b: F80, p: number): F80 {
  const ca = classify(a), cb = classify(b);
  const pre = prelude2(env, a, ca, b, cb);
  if (pre) return pre;
  const s = a.s ^ b.s;
  if (ca === Cls.Inf || cb === Cls.Inf) {
    if (ca === Cls.Zero || cb === Cls.Zero) return invalid(env);
    return inf(s);
  }
  if (ca === Cls.Zero || cb === Cls.Zero) return zero(s);
  unpack(a); const am = uM, aq = uQ;
  unpack(b);
  return roundPack(env, s, am * uM, aq + uQ, p);
}

export function div(env: FpEnv, a: F80, b: F80, p: number): F80 {
  const ca = classify(a), cb = classify(b);
  const pre = prelude2(env, a, ca, b, cb);
  if (pre) return pre;
  const s = a.s ^ b.s;
  if (ca === Cls.Inf) return cb === Cls.Inf ? invalid(env) : inf(s);
  if (cb === Cls.Inf) return zero(s);
  if (cb === Cls.Zero) {
    if (ca === Cls.Zero) return invalid(env);
    env.flags = (env.flags & ~FE_DE) | FE_ZE; // a denormal dividend does not report DE (host-verified)
    return inf(s);
  }
  if (ca === Cls.Zero) return zero(s);
  unpack(a); const am = uM, aq = uQ;
  unpack(b); const bm = uM, bq = uQ;
  let Q = (am << 130n) / bm;
  if (Q * bm !== am << 130n) Q |= 1n;
  return roundPack(env, s, Q, aq - bq - 130, p);
}

export function sqrt(env: FpEnv, a: F80, p: number): F80 {
  const ca = classify(a);
  if (ca === Cls.Unsupported) return invalid(env);
  if (isNaNCls(ca)) { if (ca === Cls.SNaN) env.flags |= FE_IE; return quiet(a); }
  if (ca === Cls.Zero) return zero(a.s);
  if (a.s === 1) return invalid(env);
  if (ca === Cls.Inf) return inf(0);
  if (ca === Cls.Denormal) env.flags |= FE_DE;
  unpack(a);
  let m = uM, q = uQ;
  if (q & 1) { m <<= 1n; q -= 1; }
  const N = m << 140n; q -= 140;
  let r = isqrt(N);
  if (r * r !== N) r |= 1n; // sticky (r*r < N always, and the low bit is far below p)
  return roundPack(env, 0, r, q / 2, p);
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLen(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * Rounds the exact value m * 2^q (m >= 0) to an integer according to rc, setting
 * PE/up in env. Returns the integer magnitude.
 */
function roundToIntMag(env: FpEnv, s: number, m: bigint, q: number, rc: number): bigint {
  if (q >= 0) return m << BigInt(q);
  let d = -q;
  const n = bitLen(m);
  if (d > n + 1) d = n + 1;
  const bd = BigInt(d);
  let keep = m >> bd;
  const rem = m & ((1n << bd) - 1n);
  if (rem !== 0n) {
    let up = false;
    if (rc === RC_NEAR) { const half = 1n << (bd - 1n); up = rem > half || (rem === half && (keep & 1n) === 1n); }
    else if (rc === RC_DOWN) up = s === 1;
    else if (rc === RC_UP) up = s === 0;
    if (up) keep += 1n;
    env.flags |= FE_PE; env.up = up;
  }
  return keep;
}

/** FRNDINT. */
export function roundInt(env: FpEnv, a: F80): F80 {
  const ca = classify(a);
  if (ca === Cls.Unsupported) return invalid(env);
  if (isNaNCls(ca)) { if (ca === Cls.SNaN) env.flags |= FE_IE; return quiet(a); }
  if (ca === Cls.Zero || ca === Cls.Inf) return copy(a);
  if (ca === Cls.Denormal) env.flags |= FE_DE;
  unpack(a);
  if (uQ >= 0) return copy(a.e === 0 ? a : a); // already an integer (normal, exponent >= 63)
  const k = roundToIntMag(env, a.s, uM, uQ, env.rc);
  if (k === 0n) return zero(a.s);
  return packExact(env, a.s, k, 0);
}

/** Integer conversion for FIST/FISTP/FISTTP. Returns null on invalid (caller stores the integer indefinite). */
export function toInt(env: FpEnv, a: F80, bits: number, truncate: boolean): bigint | null {
  const ca = classify(a);
  if (ca === Cls.Unsupported || isNaNCls(ca) || ca === Cls.Inf) { env.flags |= FE_IE; return null; }
  if (ca === Cls.Zero) return 0n;
  // FIST/FISTP/FISTTP raise no #D for a denormal source (SDM Vol.2A FIST; host-verified).
  unpack(a);
  if (uQ > 64) { env.flags |= FE_IE; return null; }
  const saveFlags = env.flags, saveUp = env.up;
  const k = roundToIntMag(env, a.s, uM, uQ, truncate ? RC_ZERO : env.rc);
  const lim = 1n << BigInt(bits - 1);
  if (a.s === 0 ? k >= lim : k > lim) {
    env.flags = saveFlags | FE_IE; env.up = saveUp;
    return null;
  }
  return a.s ? -k : k;
}

/** Exact conversion from a signed integer. */
export function fromInt(v: bigint): F80 {
  if (v === 0n) return zero(0);
  const s = v < 0n ? 1 : 0;
  const m = s ? -v : v;
  const n = bitLen(m);
  return { s, e: BIAS + n - 1, m: m << BigInt(64 - n) };
}

// ---------------------------------------------------------------------------
// Single / double conversions

/** Loads an IEEE single or double (as a bigint bit pattern) exactly. */
export function fromIeee(env: FpEnv, bits: bigint, expBits: number, fracBits: number): F80 {
  const s = Number(bits >> BigInt(expBits + fracBits)) & 1;
  const e = Number((bits >> BigInt(fracBits)) & BigInt((1 << expBits) - 1));
  const f = bits & ((1n << BigInt(fracBits)) - 1n);
  const emax = (1 << expBits) - 1, bias = (1 << (expBits - 1)) - 1;
  const sh = BigInt(63 - fracBits);
  if (e === emax) {
    if (f === 0n) return inf(s);
    const r: F80 = { s, e: 0x7fff, m: BIT63 | (f << sh) };
    if ((r.m & BIT62) === 0n) { env.flags |= FE_IE; r.m |= BIT62; }
    return r;
  }
  if (e === 0) {
    if (f === 0n) return zero(s);
    env.flags |= FE_DE;
    const n = bitLen(f);
    // value = f * 2^(1 - bias - fracBits)
    return { s, e: 1 - bias - fracBits + n - 1 + BIAS, m: f << BigInt(64 - n) };
  }
  return { s, e: e - bias + BIAS, m: BIT63 | (f << sh) };
}

/** Rounds to IEEE single/double for FST m32/m64. Returns the bit pattern. */
export function toIeee(env: FpEnv, a: F80, expBits: number, fracBits: number): bigint {
  const ca = classify(a);
  const emax = (1 << expBits) - 1, bias = (1 << (expBits - 1)) - 1;
  const sgn = BigInt(a.s) << BigInt(expBits + fracBits);
  const expAll = BigInt(emax) << BigInt(fracBits);
  const sh = BigInt(63 - fracBits);
  const fracMask = (1n << BigInt(fracBits)) - 1n;
  if (ca === Cls.Unsupported) {
    env.flags |= FE_IE;
    return (1n << BigInt(expBits + fracBits)) | expAll | (1n << BigInt(fracBits - 1));
  }
  if (isNaNCls(ca)) {
    if (ca === Cls.SNaN) env.flags |= FE_IE;
    return sgn | expAll | ((a.m >> sh) & fracMask) | (1n << BigInt(fracBits - 1));
  }
  if (ca === Cls.Inf) return sgn | expAll;
  if (ca === Cls.Zero) return sgn;
  // No DE here: Intel hardware does not report a denormal *source* on FST m32/m64
  // (checked against the host; the result underflows and reports UE/PE instead).
  unpack(a);
  roundCore(env, a.s, uM, uQ, fracBits + 1, bias, emax - 1, false);
  if (rcE === emax) return sgn | expAll;
  return sgn | (BigInt(rcE) << BigInt(fracBits)) | (rcSig & fracMask);
}

// ---------------------------------------------------------------------------
// Packed BCD (SDM Vol.1 §4.7)

/** FBLD: 10 bytes, little-endian. Invalid digits give an undefined (here: digit-weighted) result. */
export function fromBcd(bytes: ArrayLike<number>): F80 {
  let v = 0n;
  for (let i = 8; i >= 0; i--) {
    const b = bytes[i]!;
    v = v * 100n + BigInt((b >> 4) * 10 + (b & 15));
  }
  const s = (bytes[9]! & 0x80) ? 1 : 0;
  if (v === 0n) return zero(s);
  const r = fromInt(v);
  r.s = s;
  return r;
}

/** FBSTP: returns 10 bytes, or the packed BCD indefinite on invalid. */
export function toBcd(env: FpEnv, a: F80, out: Uint8Array): void {
  const ca = classify(a);
  let ok = !(ca === Cls.Unsupported || isNaNCls(ca) || ca === Cls.Inf);
  let v = 0n;
  if (ok && ca !== Cls.Zero) {
    unpack(a); // no #D for FBSTP (SDM Vol.2A FBSTP)
    const saveFlags = env.flags, saveUp = env.up;
    if (uQ > 64) ok = false;
    else {
      v = roundToIntMag(env, a.s, uM, uQ, env.rc);
      if (v > 999999999999999999n) { ok = false; env.flags = saveFlags; env.up = saveUp; }
    }
  }
  if (!ok) {
    env.flags |= FE_IE;
    out.fill(0); out[7] = 0xc0; out[8] = 0xff; out[9] = 0xff;
    return;
  }
  for (let i = 0; i < 9; i++) {
    const lo = Number(v % 10n); v /= 10n;
    const hi = Number(v % 10n); v /= 10n;
    out[i] = (hi << 4) | lo;
  }
  out[9] = a.s ? 0x80 : 0;
}

// ---------------------------------------------------------------------------
// Compare

/** Comparison result: the C3/C2/C0 encoding of FCOM (SDM Vol.2A FCOM Table 3-21). */
export const CMP_GT = 0, CMP_LT = 1, CMP_EQ = 2, CMP_UN = 3;

/** Compares a with b. quiet: FUCOM semantics (only SNaN/unsupported raise IE). */
export function compare(env: FpEnv, a: F80, b: F80, quietCmp: boolean): number {
  const ca = classify(a), cb = classify(b);
  if (ca === Cls.Unsupported || cb === Cls.Unsupported) { env.flags |= FE_IE; return CMP_UN; }
  if (isNaNCls(ca) || isNaNCls(cb)) {
    if (!quietCmp || ca === Cls.SNaN || cb === Cls.SNaN) env.flags |= FE_IE;
    return CMP_UN;
  }
  if (ca === Cls.Denormal || cb === Cls.Denormal) env.flags |= FE_DE;
  const az = ca === Cls.Zero, bz = cb === Cls.Zero;
  if (az && bz) return CMP_EQ;
  const sa = az ? 0 : (a.s ? -1 : 1), sb = bz ? 0 : (b.s ? -1 : 1);
  if (az || bz || a.s !== b.s) return sa < sb ? CMP_LT : sa > sb ? CMP_GT : CMP_EQ;
  // same sign, both nonzero: compare magnitudes
  let c: number;
  if (ca === Cls.Inf || cb === Cls.Inf) c = ca === cb ? 0 : ca === Cls.Inf ? 1 : -1;
  else {
    unpack(a); const am = uM, aq = uQ;
    unpack(b);
    c = aq !== uQ ? (aq > uQ ? 1 : -1) : am === uM ? 0 : am > uM ? 1 : -1;
  }
  if (a.s) c = -c;
  return c > 0 ? CMP_GT : c < 0 ? CMP_LT : CMP_EQ;
}

// ---------------------------------------------------------------------------
// FSCALE, FXTRACT, FPREM/FPREM1

/** FSCALE: a * 2^trunc(b) (SDM Vol.2A FSCALE Table 3-46). */
export function scale(env: FpEnv, a: F80, b: F80): F80 {
  const ca = classify(a), cb = classify(b);
  const pre = prelude2(env, a, ca, b, cb);
  if (pre) return pre;
  if (cb === Cls.Inf) {
    if (b.s === 0) return ca === Cls.Zero ? invalid(env) : ca === Cls.Inf ? inf(a.s) : inf(a.s);
    return ca === Cls.Inf ? invalid(env) : zero(a.s);
  }
  if (ca === Cls.Zero || ca === Cls.Inf) return copy(a);
  let k = 0;
  if (cb !== Cls.Zero) {
    unpack(b);
    if (uQ >= 0 || uQ + 64 > 40) k = 1 << 20; // |b| huge: saturate (result over/underflows anyway)
    else if (uQ <= -64) k = 0;
    else k = Number(uM >> BigInt(-uQ));
    if (k > 1 << 20) k = 1 << 20;
    if (b.s) k = -k;
  }
  // Scaling by a zero ST(1) returns the operand itself: a denormal stays as it
  // is, without UE and without the unmasked-UE wrap. A nonzero ST(1) that
  // truncates to 0 goes through the normal result path (both host-verified).
  if (cb === Cls.Zero) return canon(a);
  unpack(a);
  return roundPack(env, a.s, uM, uQ + k, 64);
}

/** FXTRACT: returns [exponent, significand]. */
export function xtract(env: FpEnv, a: F80): [F80, F80] {
  const ca = classify(a);
  if (ca === Cls.Unsupported) { const i = invalid(env); return [i, indefinite()]; }
  if (isNaNCls(ca)) { if (ca === Cls.SNaN) env.flags |= FE_IE; const q = quiet(a); return [q, copy(q)]; }
  if (ca === Cls.Zero) { env.flags |= FE_ZE; return [inf(1), zero(a.s)]; }
  if (ca === Cls.Inf) return [inf(0), inf(a.s)];
  if (ca === Cls.Denormal) env.flags |= FE_DE;
  const ex = normExp(a);
  const sig: F80 = { s: a.s, e: BIAS, m: uM };
  return [fromInt(BigInt(ex)), sig];
}

export interface RemResult { r: F80; q: number; partial: boolean }

/**
 * FPREM (ieee=false: quotient truncated) and FPREM1 (ieee=true: quotient rounded
 * to nearest-even), SDM Vol.2A FPREM/FPREM1. When the exponent difference is 64
 * or more, a partial remainder is produced by reducing the exponent difference
 * by an implementation-dependent N in 32..63; N = 32 + (d mod 32) matches Intel
 * hardware (checked against the host in test/fpu/host-compare.test.ts).
 */
export function rem(env: FpEnv, a: F80, b: F80, ieee: boolean): RemResult {
  const ca = classify(a), cb = classify(b);
  const pre = prelude2(env, a, ca, b, cb);
  if (pre) return { r: pre, q: 0, partial: false };
  if (ca === Cls.Inf || cb === Cls.Zero) return { r: invalid(env), q: 0, partial: false };
  if (ca === Cls.Zero) return { r: copy(a), q: 0, partial: false };
  // Divisor infinite: ST(0) unchanged, no UE even for a denormal (host-verified).
  if (cb === Cls.Inf) return { r: canon(a), q: 0, partial: false };
  unpack(a); const am = uM, aq = uQ;
  unpack(b); const bm = uM, bq = uQ;
  const d = aq - bq;
  if (d >= 64) {
    const N = 32 + (d % 32);
    const X = am << BigInt(N);
    const QQ = X / bm;
    const r = X - QQ * bm;
    // value = r * 2^(aq - N)
    if (r === 0n) return { r: zero(a.s), q: 0, partial: true };
    return { r: packExact(env, a.s, r, aq - N), q: 0, partial: true };
  }
  // |ST(0)| < |ST(1)|/2: ST(0) is the remainder, but it goes through the normal
  // result path, so a denormal reports UE and is wrapped when UE is unmasked
  // (host-verified).
  if (d < -1) return { r: packExact(env, a.s, am, aq), q: 0, partial: false };
  const X = am << BigInt(d + 1), Y = bm << 1n;
  let Q = X / Y;
  let r = X - Q * Y;
  let s = a.s;
  if (ieee && (2n * r > Y || (2n * r === Y && (Q & 1n) === 1n))) { Q += 1n; r = Y - r; s ^= 1; }
  const qlow = Number(Q & 7n);
  if (r === 0n) return { r: zero(a.s), q: qlow, partial: false };
  return { r: packExact(env, s, r, bq - 1), q: qlow, partial: false };
}

// ---------------------------------------------------------------------------
// Memory encodings

/** Encodes to 10 little-endian bytes. */
export function toBytes80(a: F80, out: Uint8Array, off = 0): void {
  let m = a.m;
  for (let i = 0; i < 8; i++) { out[off + i] = Number(m & 0xffn); m >>= 8n; }
  const se = (a.s << 15) | a.e;
  out[off + 8] = se & 0xff; out[off + 9] = se >> 8;
}
export function fromBytes80(b: ArrayLike<number>, off = 0): F80 {
  let m = 0n;
  for (let i = 7; i >= 0; i--) m = (m << 8n) | BigInt(b[off + i]!);
  const se = b[off + 8]! | (b[off + 9]! << 8);
  return { s: se >> 15, e: se & 0x7fff, m };
}

export { M64, BIT63, BIT62, unpackValue };
/** Exact (m, q) of a finite nonzero value, m normalised to bit 63. */
function unpackValue(a: F80): [bigint, number] { unpack(a); return [uM, uQ]; }
