// The machine's one source of randomness for device models (a virtio-rng backend,
// MAC addresses, jitter): a seeded PRNG whose state is part of the machine state,
// so a deterministic run (and a restored snapshot) draws the same numbers.
// Algorithm: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number
// generators", 2018), seeded through splitmix32 so any 32-bit seed is usable.

export class SeededRandom {
  private readonly s = new Uint32Array(4);

  constructor(readonly seed: number) {
    let x = seed >>> 0;
    for (let k = 0; k < 4; k++) {
      // splitmix32 step
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[k] = (z ^ (z >>> 16)) >>> 0;
    }
    if (!(this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!)) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** The next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] ^= s[0]!; s[3] ^= s[1]!; s[1] ^= s[2]!; s[0] ^= s[3]!;
    s[2] ^= t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }

  /** Fills `buf` with random bytes. */
  fill(buf: Uint8Array): void {
    for (let k = 0; k < buf.length; k += 4) {
      const v = this.nextU32();
      for (let j = 0; j < 4 && k + j < buf.length; j++) buf[k + j] = (v >>> (8 * j)) & 0xff;
    }
  }

  saveState(): number[] { return Array.from(this.s); }

  loadState(st: readonly number[]): void {
    if (st.length !== 4 || !st.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new Error('SeededRandom.loadState: malformed state');
    this.s.set(st);
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }
